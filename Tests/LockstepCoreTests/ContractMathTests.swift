import Foundation
import XCTest
import LockstepCore

final class ContractMathTests: XCTestCase {
    func testOrderedSumUsesLanesThenPairwiseTree() {
        // Lane 0 holds 2^24; lane 1 holds x[1] + x[33] = 2, so the fold gives 2^24 + 2 exactly.
        // A left-to-right sum would lose both ones (2^24 + 1 rounds back to 2^24).
        var x = [Float](repeating: 0, count: 34)
        x[0] = 16_777_216; x[1] = 1; x[33] = 1
        XCTAssertEqual(x.withUnsafeBufferPointer { ContractMath.orderedSum($0) }, 16_777_218)
        XCTAssertEqual(x.reduce(0, +), 16_777_216)
    }

    func testExpIsAccurateToOneUlp() {
        var x: Float = -103
        while x < 88.5 {
            let ours = ContractMath.exp(x)
            let truth = Float(Foundation.exp(Double(x)))
            XCTAssertLessThanOrEqual(abs(Int64(ours.bitPattern) - Int64(truth.bitPattern)), 1, "exp(\(x))")
            x += 0.0137
        }
        XCTAssertEqual(ContractMath.exp(Float(0)), 1)
        XCTAssertEqual(ContractMath.exp(Float(100)), .infinity)
        XCTAssertEqual(ContractMath.exp(Float(-200)), 0)
        XCTAssertTrue(ContractMath.exp(Float.nan).isNaN)
    }

    func testLogAndSinCosAreAccurate() {
        for v in [1e-300, 0.5, 1, 2, 10, 100_000, 1e300] {
            XCTAssertEqual(ContractMath.log(v), Foundation.log(v), accuracy: 4e-16 * max(1, Swift.abs(Foundation.log(v))))
        }
        var t = -5000.0
        while t < 5000 {
            let (s, c) = ContractMath.sinCos(t)
            XCTAssertEqual(s, Foundation.sin(t), accuracy: 1e-12)
            XCTAssertEqual(c, Foundation.cos(t), accuracy: 1e-12)
            t += 0.731
        }
    }

    func testRopeFrequenciesMatchThePowerRule() {
        let angles = RopeAngles(rotatedDimensions: 64, base: 100_000)
        for (i, f) in angles.inverseFrequencies.enumerated() {
            XCTAssertEqual(f, Foundation.pow(100_000, -Double(2 * i) / 64), accuracy: 1e-15)
        }
    }
}
