import XCTest
import LockstepCore

final class ActivationQuantizationTests: XCTestCase {
    private func quantize(_ x: [Float]) -> (values: [Int16], exponent: Int32, sum: Int32) {
        let q = x.withUnsafeBufferPointer { QuantizedActivations($0, rows: 1, columns: x.count) }
        return (Array(q.values[0..<32]), q.exponents[0], q.sums[0])
    }

    func testExponentPutsTheMaximumInTheTopOctave() {
        XCTAssertEqual(ActivationQuantizer.blockExponent(maxMagnitude: 1), -14)
        XCTAssertEqual(ActivationQuantizer.blockExponent(maxMagnitude: 1.999), -14)
        XCTAssertEqual(ActivationQuantizer.blockExponent(maxMagnitude: 2), -13)
        XCTAssertEqual(ActivationQuantizer.blockExponent(maxMagnitude: 0), 0)
        XCTAssertEqual(ActivationQuantizer.blockExponent(maxMagnitude: Float(bitPattern: 1)), -149 - 14)   // smallest subnormal
        XCTAssertEqual(ActivationQuantizer.blockExponent(maxMagnitude: .greatestFiniteMagnitude), 127 - 14)
    }

    func testRoundHalfToEvenAndSaturation() {
        // Max 1.0 → e = −14 → scale 2^14. 0.5·2^-14 → 0.5 → 0; 1.5·2^-14 → 2; 2.5·2^-14 → 2.
        let u = Float(sign: .plus, exponent: -14, significand: 1)
        let r = quantize([1, 0.5 * u, 1.5 * u, 2.5 * u, -2.5 * u])
        XCTAssertEqual(Array(r.values[0..<5]), [16384, 0, 2, 2, -2])
        XCTAssertEqual(r.exponent, -14)
        // 1.99999 · 2^14 rounds to 32768, which saturates to 32767.
        let s = quantize([1.99999, -1.99999])
        XCTAssertEqual(Array(s.values[0..<2]), [32767, -32767])
    }

    func testZeroNaNInfinityAndPadding() {
        let z = quantize([Float](repeating: 0, count: 32))
        XCTAssertEqual(z.values, [Int16](repeating: 0, count: 32))
        XCTAssertEqual(z.exponent, 0)
        let n = quantize([.nan, 1, .infinity, -.infinity])
        XCTAssertEqual(Array(n.values[0..<4]), [0, 16384, 32767, -32767])
        XCTAssertEqual(n.values[4...].allSatisfy { $0 == 0 }, true)   // short block padded with zeros
        XCTAssertEqual(n.sum, 16384)
    }

    func testSubnormalBlockIsExact() {
        let tiny = Float(bitPattern: 3)               // 3·2^-149
        let r = quantize([tiny, Float(bitPattern: 1)])
        XCTAssertEqual(r.exponent, 1 - 149 - 14)
        XCTAssertEqual(Array(r.values[0..<2]), [24576, 8192])       // 3·2^13, 1·2^13
    }
}
