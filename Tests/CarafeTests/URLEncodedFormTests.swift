import Testing

@testable import CarafeCore

@Suite struct URLEncodedFormTests {
    // MARK: Parsing

    /// Flattens parsed pairs so they can be compared with `==`.
    private func parsed(_ text: String) -> [[String]] {
        URLEncodedForm.parse(text).map { [$0.name, $0.value] }
    }

    @Test func parseSplitsPairsInOrder() {
        #expect(parsed("b=2&a=1&b=3") == [["b", "2"], ["a", "1"], ["b", "3"]])
        #expect(parsed("") == [])
    }

    @Test func parseDecodesPlusAndEscapes() {
        #expect(
            parsed("q=hello+world&name=Jos%C3%A9&sym=%26%3D%2B%25") == [
                ["q", "hello world"], ["name", "José"], ["sym", "&=+%"],
            ]
        )
        #expect(parsed("caf%C3%A9+name=a%20b") == [["café name", "a b"]])
    }

    @Test func parseSplitsOnlyOnTheFirstEquals() {
        #expect(parsed("expr=a=b") == [["expr", "a=b"]])
    }

    @Test func parseGivesAPairWithoutEqualsAnEmptyValue() {
        #expect(parsed("flag&a=1&empty=") == [["flag", ""], ["a", "1"], ["empty", ""]])
        #expect(parsed("=x") == [["", "x"]])
    }

    @Test func parseSkipsEmptyPairs() {
        #expect(parsed("a=1&&b=2&") == [["a", "1"], ["b", "2"]])
        #expect(parsed("&&&") == [])
    }

    @Test func parseKeepsInvalidEscapesLiterally() {
        #expect(
            parsed("a=%zz&b=%4&c=100%&d=%FF%FE+x&e=%C3") == [
                ["a", "%zz"], ["b", "%4"], ["c", "100%"], ["d", "%FF%FE x"], ["e", "%C3"],
            ]
        )
    }

    @Test func parseAcceptsSubstrings() {
        let url = "/search?q=swift+web"
        let query = url[url.index(after: url.firstIndex(of: "?")!)...]
        #expect(URLEncodedForm.parse(query).map(\.value) == ["swift web"])
    }

    @Test func percentDecodeReportsMalformedText() {
        #expect(URLEncodedForm.percentDecode("a+b%2Fc", plusAsSpace: true) == "a b/c")
        #expect(URLEncodedForm.percentDecode("a+b%2fc", plusAsSpace: false) == "a+b/c")
        #expect(URLEncodedForm.percentDecode("%e2%82%ac", plusAsSpace: false) == "€")
        #expect(URLEncodedForm.percentDecode("%zz", plusAsSpace: true) == nil)
        #expect(URLEncodedForm.percentDecode("%4", plusAsSpace: true) == nil)
        #expect(URLEncodedForm.percentDecode("%", plusAsSpace: true) == nil)
        #expect(URLEncodedForm.percentDecode("%FF", plusAsSpace: true) == nil)
        #expect(URLEncodedForm.percentDecode("%C3", plusAsSpace: true) == nil)
    }

    // MARK: Building

    @Test func serializeEscapesAllButUnreservedCharacters() {
        #expect(URLEncodedForm.serialize([("a", "1"), ("b", "x y")]) == "a=1&b=x+y")
        #expect(URLEncodedForm.serialize([("k-._~", "&=+%/?#")]) == "k-._~=%26%3D%2B%25%2F%3F%23")
        #expect(URLEncodedForm.serialize([("name", "José €")]) == "name=Jos%C3%A9+%E2%82%AC")
        #expect(URLEncodedForm.serialize([]) == "")
    }

    @Test func serializeRoundTripsThroughParse() {
        let pairs = [
            ("naïve name", "日本語 & emoji 👩‍💻"),
            ("a[b]", "x=y+z%20;,/?:@!$'()*"),
            ("", ""),
            ("tab\tnew\nline", "~-._"),
        ]
        let text = URLEncodedForm.serialize(pairs)
        #expect(text.utf8.allSatisfy { $0 < 0x80 && $0 != UInt8(ascii: " ") })
        #expect(URLEncodedForm.parse(text).map { [$0.name, $0.value] } == pairs.map { [$0.0, $0.1] })
    }

    @Test func escapePathSegmentKeepsSegmentCharacters() {
        #expect(URLEncodedForm.escapePathSegment("a-Z_0.9~!$&'()*+,;=:@") == "a-Z_0.9~!$&'()*+,;=:@")
        #expect(URLEncodedForm.escapePathSegment("a/b?c#d%e f") == "a%2Fb%3Fc%23d%25e%20f")
        #expect(URLEncodedForm.escapePathSegment("café") == "caf%C3%A9")
        #expect(URLEncodedForm.percentDecode(URLEncodedForm.escapePathSegment("../ é?"), plusAsSpace: false) == "../ é?")
    }

    // MARK: Decoding

    enum Plan: String, Decodable { case free, pro }
    enum Level: Int, Decodable { case low = 1, high = 2 }

    struct Address: Decodable, Equatable {
        let city: String
        let zip: String
        let tags: [String]?
    }

    struct Signup: Decodable, Equatable {
        let name: String
        let age: Int
        let height: Double
        let subscribe: Bool
        let nickname: String?
        let referrer: Int?
        let tags: [String]
        let plan: Plan
        let level: Level
        let address: Address
    }

    private let decoder = URLEncodedFormDecoder()

    @Test func decodesAStructWithEveryKindOfField() throws {
        let text =
            "name=Ada+Lovelace&age=36&height=1.68&subscribe=on&tags=math&tags=poetry&plan=pro&level=2"
            + "&address[city]=London&address[zip]=W1&address[tags][]=home&address[tags][]=uk&referrer="
        let signup = try decoder.decode(Signup.self, from: text)
        #expect(
            signup
                == Signup(
                    name: "Ada Lovelace",
                    age: 36,
                    height: 1.68,
                    subscribe: true,
                    nickname: nil,
                    referrer: nil,
                    tags: ["math", "poetry"],
                    plan: .pro,
                    level: .high,
                    address: Address(city: "London", zip: "W1", tags: ["home", "uk"])
                )
        )
    }

    @Test func decodesFromPairs() throws {
        let address = try decoder.decode(Address.self, from: [("zip", "75001"), ("city", "Paris")])
        #expect(address == Address(city: "Paris", zip: "75001", tags: nil))
    }

    struct Flags: Decodable {
        let flags: [Bool]
    }

    @Test func decodesBooleansInEveryAcceptedSpelling() throws {
        let text = "flags[]=on&flags[]=TRUE&flags[]=Yes&flags[]=1&flags[]=off&flags[]=false&flags[]=NO&flags[]=0"
        #expect(try decoder.decode(Flags.self, from: text).flags == [true, true, true, true, false, false, false, false])
    }

    struct Checkbox: Decodable {
        let remember: Bool?
    }

    @Test func decodesACheckbox() throws {
        #expect(try decoder.decode(Checkbox.self, from: "remember=on").remember == true)
        #expect(try decoder.decode(Checkbox.self, from: "").remember == nil)
    }

    struct Profile: Decodable {
        let bio: String?
        let age: Int?
        let tags: [String]?
    }

    @Test func decodesMissingAndEmptyOptionalFields() throws {
        let empty = try decoder.decode(Profile.self, from: "bio=&age=")
        #expect(empty.bio == "")
        #expect(empty.age == nil)
        #expect(empty.tags == nil)
        let filled = try decoder.decode(Profile.self, from: "age=%2042%20&tags[]=a")
        #expect(filled.bio == nil)
        #expect(filled.age == 42)
        #expect(filled.tags == ["a"])
    }

    struct Score: Decodable {
        let score: Int
    }

    @Test func aRepeatedScalarTakesTheLastValue() throws {
        #expect(try decoder.decode(Score.self, from: "score=1&score=2&score=3").score == 3)
    }

    struct Order: Decodable {
        struct Item: Decodable, Equatable {
            let sku: String
            let quantity: UInt8
        }
        let items: [Item]
    }

    @Test func decodesIndexedListsOfNestedValuesInIndexOrder() throws {
        let text =
            "items[10][sku]=c&items[10][quantity]=3&items[2][sku]=b&items[2][quantity]=2"
            + "&items[0][sku]=a&items[0][quantity]=1"
        let order = try decoder.decode(Order.self, from: text)
        #expect(order.items == [.init(sku: "a", quantity: 1), .init(sku: "b", quantity: 2), .init(sku: "c", quantity: 3)])
    }

    @Test func decodesDictionaries() throws {
        let fields = try decoder.decode([String: String].self, from: "a=1&b=2&b=3")
        #expect(fields == ["a": "1", "b": "3"])
        let lists = try decoder.decode([String: [Int]].self, from: "a=1&b=2&b=3")
        #expect(lists == ["a": [1], "b": [2, 3]])
    }

    @Test func decodesEveryNumberType() throws {
        struct Numbers: Decodable {
            let i8: Int8, i16: Int16, i32: Int32, i64: Int64, u: UInt, u8: UInt8, u16: UInt16, u32: UInt32, u64: UInt64
            let f: Float, d: Double
        }
        let text =
            "i8=-128&i16=32767&i32=-5&i64=9223372036854775807&u=0&u8=255&u16=%2B7&u32=4294967295"
            + "&u64=18446744073709551615&f=0.5&d=-2.5e3"
        let numbers = try decoder.decode(Numbers.self, from: text)
        #expect(numbers.i8 == .min && numbers.i16 == .max && numbers.i32 == -5 && numbers.i64 == .max)
        #expect(numbers.u == 0 && numbers.u8 == .max && numbers.u16 == 7 && numbers.u32 == .max && numbers.u64 == .max)
        #expect(numbers.f == 0.5 && numbers.d == -2500)
    }

    // MARK: Errors

    @Test func aMissingRequiredFieldIsKeyNotFound() throws {
        let error = try #require(throws: DecodingError.self) {
            try decoder.decode(Address.self, from: "city=Paris")
        }
        guard case .keyNotFound(let key, let context) = error else {
            Issue.record("expected keyNotFound, got \(error)")
            return
        }
        #expect(key.stringValue == "zip")
        #expect(context.codingPath.isEmpty)
        #expect(context.debugDescription == "missing required field 'zip'")
    }

    @Test func aMissingNestedFieldIsNamedInFormSyntax() throws {
        let error = try #require(throws: DecodingError.self) {
            try decoder.decode(Signup.self, from: "name=a&age=1&height=1&subscribe=0&tags=x&plan=free&level=1&address[zip]=1")
        }
        guard case .keyNotFound(let key, let context) = error else {
            Issue.record("expected keyNotFound, got \(error)")
            return
        }
        #expect(key.stringValue == "city")
        #expect(context.codingPath.map(\.stringValue) == ["address"])
        #expect(context.debugDescription == "missing required field 'address[city]'")
    }

    @Test func aMissingArrayIsKeyNotFound() throws {
        #expect(throws: DecodingError.self) { try decoder.decode(Flags.self, from: "other=1") }
    }

    /// The coding path and description of the `DecodingError` thrown while decoding `text`.
    private func failure<T: Decodable>(_ type: T.Type, _ text: String) throws -> (path: [String], message: String) {
        let error = try #require(throws: DecodingError.self) { try decoder.decode(type, from: text) }
        switch error {
        case .dataCorrupted(let context), .typeMismatch(_, let context), .valueNotFound(_, let context),
            .keyNotFound(_, let context):
            return (context.codingPath.map(\.stringValue), context.debugDescription)
        @unknown default:
            Issue.record("unexpected error \(error)")
            return ([], "")
        }
    }

    @Test func garbageForAnIntNamesTheFieldAndValue() throws {
        let error = try #require(throws: DecodingError.self) { try decoder.decode(Score.self, from: "score=abc") }
        guard case .dataCorrupted(let context) = error else {
            Issue.record("expected dataCorrupted, got \(error)")
            return
        }
        #expect(context.codingPath.map(\.stringValue) == ["score"])
        #expect(context.debugDescription == "expected an Int, got 'abc'")
        #expect(try failure(Score.self, "score=1.5").message == "expected an Int, got '1.5'")
        #expect(try failure(Score.self, "score=").message == "expected an Int, got ''")
    }

    @Test func integerOverflowIsRejected() throws {
        #expect(
            try failure(Score.self, "score=99999999999999999999") == (
                ["score"], "expected an Int, got '99999999999999999999', which is out of range"
            )
        )
        #expect(
            try failure(Order.self, "items[0][sku]=a&items[0][quantity]=256") == (
                ["items", "0", "quantity"], "expected a UInt8, got '256', which is out of range"
            )
        )
        #expect(
            try failure(Order.self, "items[0][sku]=a&items[0][quantity]=-1").message
                == "expected a UInt8, got '-1', which is out of range"
        )
    }

    @Test func badValuesNameTheirField() throws {
        #expect(
            try failure(Checkbox.self, "remember=maybe") == (
                ["remember"], "expected a Bool (true/false, on/off, yes/no, 1/0), got 'maybe'"
            )
        )
        #expect(try failure(Flags.self, "flags=on&flags=x").path == ["flags", "1"])
        #expect(
            try failure(Profile.self, "age=\(String(repeating: "9x", count: 100))").message
                == "expected an Int, got '\(String(repeating: "9x", count: 20))…'"
        )
        struct Choice: Decodable { let plan: Plan }
        let badEnum = try failure(Choice.self, "plan=gold")
        #expect(badEnum.path == ["plan"])
        #expect(badEnum.message.contains("gold"))
    }

    @Test func aValueWhereFieldsWereExpectedIsATypeMismatch() throws {
        let error = try #require(throws: DecodingError.self) {
            try decoder.decode(Anything.self, from: "c=Paris")
        }
        guard case .typeMismatch(_, let context) = error else {
            Issue.record("expected typeMismatch, got \(error)")
            return
        }
        #expect(context.codingPath.map(\.stringValue) == ["c"])
        #expect(context.debugDescription == "expected fields named like 'c[…]', got 'Paris'")
        #expect(try failure(Score.self, "score[x]=1") == (["score"], "expected an Int, got nested fields"))
        #expect(try failure(Flags.self, "flags[x]=1") == (["flags"], "expected a list of values, got nested fields"))
    }

    // MARK: Hostile input

    struct Anything: Decodable {
        let a: String?
        let b: [Int]?
        let c: Address?
    }

    @Test func hostileInputDoesNotCrash() throws {
        let deep = String(repeating: "[a]", count: 100_000)
        let inputs = [
            "a[[[[=1", "a]]]=1", "a[=1", "a[]]=1", "[a]=1", "[]=1", "a[b]c=1", "=", "==", "&=&", "%", "%%%%",
            "a=\(String(repeating: "%", count: 10_000))", "a\(deep)=1", "c\(deep)=1", "b[]\(deep)=1",
            "b=\(String(repeating: "9", count: 10_000))", "b[99999999999999999999]=1", "b[-1]=1", "b[1]=1&b=2",
            "a=日本語&b[]=١٢", "c[city]=x&c=y", "a[b]=1&a=2", "\u{0}=\u{0}", "c[zip]=%00",
        ]
        var outcomes = 0
        for input in inputs {
            _ = URLEncodedForm.parse(input)
            _ = try? decoder.decode([String: String].self, from: input)
            _ = try? decoder.decode([String: [String]].self, from: input)
            _ = try? decoder.decode(Signup.self, from: input)
            if (try? decoder.decode(Anything.self, from: input)) != nil { outcomes += 1 }
        }
        #expect(outcomes > 0)
        #expect(try decoder.decode(Anything.self, from: "a[[[[=1").a == nil)
        #expect(try decoder.decode([String: String].self, from: "a[[[[=1&a]]]=2") == ["a[[[[": "1", "a]]]": "2"])
        #expect(try decoder.decode([String: String].self, from: "a\(deep)=1").keys.first == "a\(deep)")
        #expect(try decoder.decode(Anything.self, from: "b[1]=1&b=2").b == [2, 1])
        #expect(throws: DecodingError.self) {
            try decoder.decode(Anything.self, from: "b[-1]=1&b[99999999999999999999]=2")
        }
    }
}
