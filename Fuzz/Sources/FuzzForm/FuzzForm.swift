// `application/x-www-form-urlencoded` bodies: parsing, serializing what parsed back to the
// same pairs, and decoding into a Codable type with nested and repeated fields.
@testable import CarafeCore
import FuzzSupport

struct Signup: Decodable {
    struct Address: Decodable {
        var city: String?
        var zip: Int?
    }
    var name: String?
    var age: Int?
    var admin: Bool?
    var score: Double?
    var tags: [String]?
    var address: Address?
    var pets: [Address]?
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafeRawPointer, _ count: Int) -> CInt {
    var input = FuzzInput(data, count)
    let text = input.rest()
    let pairs = URLEncodedForm.parse(text)
    let again = URLEncodedForm.parse(URLEncodedForm.serialize(pairs))
    check(again.map(\.name) == pairs.map(\.name) && again.map(\.value) == pairs.map(\.value), "\(text.debugDescription) does not round-trip")
    _ = try? URLEncodedFormDecoder().decode(Signup.self, from: text)
    _ = try? URLEncodedFormDecoder().decode([String: String].self, from: text)
    return 0
}

runFuzzer { data, count in fuzz(data, count) }
