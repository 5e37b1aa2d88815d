import XCTest
import LockstepCore

/// The accumulator must return the correctly rounded binary32 value of the exact sum.
final class ExactAccumulatorTests: XCTestCase {
    private func sum(_ terms: [(Int64, Int)]) -> Float {
        var acc = ExactAccumulator()
        for (v, e) in terms { acc.add(v, exponent: e) }
        return acc.rounded()
    }

    func testSmallExactSumsMatchBinary64Rounding() {
        // Terms below 2^20 with exponents in [-10, 10], at most 8 of them: the exact sum needs
        // fewer than 53 bits, so binary64 holds it exactly and Float(Double) rounds it correctly.
        var state: UInt64 = 12345
        func next() -> UInt64 { state = state &* 6364136223846793005 &+ 1442695040888963407; return state >> 33 }
        for _ in 0..<20000 {
            let count = Int(next() % 8) + 1
            var terms: [(Int64, Int)] = []
            var exact = 0.0
            for _ in 0..<count {
                let v = Int64(next() % (1 << 20)) - (1 << 19)
                let e = Int(next() % 21) - 10
                terms.append((v, e))
                exact += Double(v) * Double(sign: .plus, exponent: e, significand: 1)
            }
            XCTAssertEqual(sum(terms).bitPattern, Float(exact).bitPattern, "terms \(terms)")
        }
    }

    func testTiesRoundToEven() {
        XCTAssertEqual(sum([(1 << 24, 0), (1, 0)]), 16_777_216)          // 2^24 + 1 → 2^24 (even)
        XCTAssertEqual(sum([(1 << 24, 0), (3, 0)]), 16_777_220)          // 2^24 + 3 → 2^24 + 4
        XCTAssertEqual(sum([(-(1 << 24), 0), (-1, 0)]), -16_777_216)
    }

    func testStickyBitFarBelowBreaksTie() {
        // 2^24 + 1 + 2^-300 is above the midpoint, so it rounds up to 2^24 + 2.
        XCTAssertEqual(sum([(1 << 24, 0), (1, 0), (1, -300)]), 16_777_218)
        XCTAssertEqual(sum([(1 << 24, 0), (1, 0), (-1, -300)]), 16_777_216)
    }

    func testCancellationAcrossExtremeExponents() {
        XCTAssertEqual(sum([(1, 300), (3, -2), (-1, 300)]), 0.75)
        XCTAssertEqual(sum([(5, 17), (-5, 17)]).bitPattern, Float(0).bitPattern)   // exact zero is +0
    }

    func testSubnormalAndOverflow() {
        XCTAssertEqual(sum([(3, -150)]), Float(bitPattern: 2))             // 1.5·2^-149 → tie → 2·2^-149
        XCTAssertEqual(sum([(5, -151)]), Float(bitPattern: 1))             // 1.25·2^-149 → 1·2^-149
        XCTAssertEqual(sum([(1, -126)]), Float.leastNormalMagnitude)
        XCTAssertEqual(sum([((1 << 24) - 1, -150)]), Float.leastNormalMagnitude)   // rounds up into the normal range
        XCTAssertEqual(sum([(1, 128)]), .infinity)
        XCTAssertEqual(sum([(-1, 128)]), -.infinity)
        XCTAssertEqual(sum([((1 << 24) - 1, 104)]), Float.greatestFiniteMagnitude)
        XCTAssertEqual(sum([((1 << 25) - 1, 103)]), .infinity)             // rounds past the largest finite value
    }

    func testOrderDoesNotMatter() {
        var terms: [(Int64, Int)] = []
        for i in 0..<200 {
            let value = Int64((i * 7919) % 100_003) - 50_000
            terms.append((value, (i * 37) % 90 - 45))
        }
        let forward = sum(terms)
        XCTAssertEqual(sum(terms.reversed()).bitPattern, forward.bitPattern)
        var a = ExactAccumulator(), b = ExactAccumulator()
        for (i, t) in terms.enumerated() { if i % 2 == 0 { a.add(t.0, exponent: t.1) } else { b.add(t.0, exponent: t.1) } }
        a.add(b)
        XCTAssertEqual(a.rounded().bitPattern, forward.bitPattern)
    }
}
