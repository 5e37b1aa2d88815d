import XCTest
import LockstepGGUF

final class GGMLTypeTests: XCTestCase {
    func testRawValuesMatchGGML() {
        XCTAssertEqual(GGMLType.allCases.map(\.rawValue), [0, 1, 2, 3, 8, 30])
    }

    func testBlockGeometryAndNames() {
        let expected: [GGMLType: (Int, Int, String)] = [
            .f32: (1, 4, "F32"), .f16: (1, 2, "F16"), .bf16: (1, 2, "BF16"),
            .q4_0: (32, 18, "Q4_0"), .q4_1: (32, 20, "Q4_1"), .q8_0: (32, 34, "Q8_0"),
        ]
        for t in GGMLType.allCases {
            let (elements, bytes, name) = expected[t]!
            XCTAssertEqual(t.blockElements, elements, "\(t)")
            XCTAssertEqual(t.blockBytes, bytes, "\(t)")
            XCTAssertEqual(t.name, name)
            XCTAssertEqual(GGMLType.ggmlName(of: t.rawValue), name)
        }
        XCTAssertEqual(GGMLType.ggmlName(of: 12), "Q4_K")
        XCTAssertNil(GGMLType.ggmlName(of: 4))
        XCTAssertNil(GGMLType.ggmlName(of: 1000))
    }

    func testByteCount() {
        XCTAssertEqual(GGMLType.f32.byteCount(elements: 0), 0)
        XCTAssertEqual(GGMLType.f32.byteCount(elements: 7), 28)
        XCTAssertEqual(GGMLType.bf16.byteCount(elements: 3), 6)
        XCTAssertEqual(GGMLType.q8_0.byteCount(elements: 576 * 49152), 576 / 32 * 49152 * 34)
        XCTAssertEqual(GGMLType.q4_1.byteCount(elements: 64), 40)
        XCTAssertEqual(GGMLType.q4_0.byteCount(elements: 96), 54)
        XCTAssertNil(GGMLType.q4_0.byteCount(elements: 33))
        XCTAssertNil(GGMLType.q8_0.byteCount(elements: -32))
        XCTAssertNil(GGMLType.f32.byteCount(elements: Int.max))
        XCTAssertNil(GGMLType.f16.byteCount(elements: Int.max / 2 + 1))
        XCTAssertEqual(GGMLType.f16.byteCount(elements: Int.max / 2), Int.max - 1)
    }
}
