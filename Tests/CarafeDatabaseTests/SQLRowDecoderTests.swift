import CarafeDatabase
import Foundation
import Testing

/// Regressions found by the SQLRow fuzz target (Fuzz/Sources/FuzzSQLRow), and what a decoding
/// failure says.
@Suite struct SQLRowDecoderTests {
    struct Tagged: Decodable {
        var tags: [String]
    }

    /// A NaN date in a decoding error's message trapped in Foundation's `Date.description`.
    @Test func aDecodingErrorAboutADateThatIsNotARealDateDoesNotTrap() {
        let row = SQLRow(
            columns: ["tags", "when"],
            values: [.date(Date(timeIntervalSince1970: .nan)), .date(Date(timeIntervalSince1970: 1e300))]
        )
        #expect(throws: SQLDecodingError.self) { try row.decode(as: [String: String].self) }
        #expect(SQLValue.date(Date(timeIntervalSince1970: .nan)).description == "Date(timeIntervalSince1970: nan)")
        #expect(SQLValue.date(Date(timeIntervalSince1970: 1e300)).description == "Date(timeIntervalSince1970: 1e+300)")
        #expect(SQLValue.date(Date(timeIntervalSince1970: 0)).description == "1970-01-01 00:00:00 +0000")
    }

    /// A JSON column held as bytes failed with the JSON decoder's bare error, not one naming it.
    @Test func aJSONColumnThatDoesNotDecodeNamesTheColumnWhetherTextOrBytes() throws {
        for value in [SQLValue.text("{"), .bytes(Array("{".utf8))] {
            let error = #expect(throws: SQLDecodingError.self) { try SQLRow(columns: ["tags"], values: [value]).decode(as: Tagged.self) }
            #expect(
                error?.description.hasPrefix("column 'tags': cannot read its JSON as Array<String>") == true,
                "\(String(describing: error))"
            )
        }
        #expect(try SQLRow(columns: ["tags"], values: [.bytes(Array(#"["a"]"#.utf8))]).decode(as: Tagged.self).tags == ["a"])
    }
}
