import XCTest
import LockstepGGUF

/// Error messages describe a metadata value in a few dozen characters, whatever its size, and
/// never pass a file's control characters to the terminal.
final class GGUFValueDescriptionTests: XCTestCase {
    func testSummaryGivesTypeAndValue() {
        XCTAssertEqual(GGUFValue.uint32(2048).summary, "uint32 2048")
        XCTAssertEqual(GGUFValue.int8(-3).summary, "int8 -3")
        XCTAssertEqual(GGUFValue.float32(0.5).summary, "float32 0.5")
        XCTAssertEqual(GGUFValue.bool(true).summary, "bool true")
        XCTAssertEqual(GGUFValue.string("16").summary, "string \"16\"")
    }

    func testArraySummaryNamesCountAndTypeNotElements() {
        XCTAssertEqual(GGUFValue.array(.uint8([UInt8](repeating: 0, count: 1_000_000))).summary,
                       "an array of 1000000 uint8 values")
        XCTAssertEqual(GGUFValue.array(.nested([.array(.string(["a"]))])).summary, "an array of 1 array values")
    }

    func testLongTextIsClippedToTheLimit() {
        let long = String(repeating: "é", count: 1_000_000)
        XCTAssertEqual(GGUFValue.string(long).summary,
                       "string \"" + String(repeating: "é", count: GGUFValue.quotedScalarLimit) + "…\"")
        let exact = String(repeating: "x", count: GGUFValue.quotedScalarLimit)
        XCTAssertEqual(GGUFValue.quoted(exact), "\"\(exact)\"")
    }

    func testControlCharactersAreEscaped() {
        XCTAssertEqual(GGUFValue.quoted("llama\u{1B}[2J\u{7}\n\t\u{7F}\u{9B}é✓"),
                       #""llama\u{1B}[2J\u{7}\u{A}\u{9}\u{7F}\u{9B}é✓""#)
        XCTAssertEqual(GGUFValue.clipped("general\u{0}.name"), #"general\u{0}.name"#)
    }

    func testKeysAreEscapedInParserErrors() throws {
        let c = try XCTUnwrap(GGUFMalformedCorpus.cases().first { $0.id == "control-characters-in-key" })
        let error = try XCTUnwrap(expectRejection(c.bytes))
        XCTAssertEqual(error.field, #"key 'test.\u{1B}[2Jbool'"#)
    }
}
