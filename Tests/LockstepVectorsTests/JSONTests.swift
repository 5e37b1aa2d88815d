import XCTest
import LockstepNative
@testable import LockstepVectors

/// The module's own JSON writer and reader: canonical text, round trips, errors.
final class JSONTests: XCTestCase {
    func testRoundTripKeepsKeyOrderAndText() throws {
        let value = JSON.object([("b", .int(1)), ("a", .array([.string("x\"\\\n\u{01}é"), .null, .bool(true)])),
                                 ("c", .array([.object([("k", .int(-7))])])), ("d", .object([])), ("e", .array([]))])
        let text = value.serialized()
        XCTAssertEqual(try JSON.parse(text), value)
        XCTAssertEqual(try JSON.parse(text).serialized(), text)
        XCTAssertTrue(text.hasPrefix("{\n  \"b\": 1,\n  \"a\": [\"x\\\"\\\\\\n\\u0001é\", null, true],"), text)
    }

    func testParsesEscapesAndSurrogates() throws {
        XCTAssertEqual(try JSON.parse(#"["\u00e9\ud83d\ude00\/\t"]"#), .array([.string("é😀/\t")]))
        XCTAssertEqual(try JSON.parse(" { \"a\" : [ 1 , -2.5e3 ] } "), .object([("a", .array([.number("1"), .number("-2.5e3")]))]))
    }

    func testRejectsMalformedText() {
        for bad in ["", "{", "[1,]", "{\"a\" 1}", "[1] x", "\"abc", "[tru]", "[\"\\x\"]", "{1: 2}", "-"] {
            XCTAssertThrowsError(try JSON.parse(bad), bad)
        }
    }

    func testHexAndLittleEndian() throws {
        XCTAssertEqual(Hex.encode([0x00, 0xAB, 0x7F]), "00ab7f")
        XCTAssertEqual(Hex.decode("00AB7f"), [0x00, 0xAB, 0x7F])
        XCTAssertNil(Hex.decode("abc"))
        XCTAssertNil(Hex.decode("zz"))
        XCTAssertEqual(LittleEndian.bytes([Int16(-2)]), [0xFE, 0xFF])
        XCTAssertEqual(LittleEndian.integers([0x01, 0x00, 0x00, 0x80], as: Int32.self), [Int32.min + 1])
    }
}
