import XCTest
import LockstepTestSupport
import LockstepModel

final class SamplerTests: XCTestCase {
    func testArgmaxTiesGoToLowestIdAndNaNIsNeverChosen() {
        let logits: [Float] = [.nan, 1, 3, 3, -.infinity, .nan]
        XCTAssertEqual(logits.withUnsafeBufferPointer { Sampler.argmax($0) }, 2)
        XCTAssertEqual([Float.nan, .nan].withUnsafeBufferPointer { Sampler.argmax($0) }, 0)
        // Nothing above −∞: the first value that is not NaN.
        XCTAssertEqual([Float.nan, -.infinity, -.infinity].withUnsafeBufferPointer { Sampler.argmax($0) }, 1)
        XCTAssertEqual([Float.nan, .infinity, 5, .infinity].withUnsafeBufferPointer { Sampler.argmax($0) }, 1)
        XCTAssertEqual([-Float.infinity, .nan, -1e38].withUnsafeBufferPointer { Sampler.argmax($0) }, 2)
    }

    /// The vectorised argmax against its definition (the first index whose value no other
    /// non-NaN value exceeds, ties by IEEE equality) on rows of every length up to 70, full of
    /// ties, signed zeros, infinities and NaNs.
    func testArgmaxMatchesTheScalarDefinitionOnAwkwardRows() {
        func definition(_ x: [Float]) -> Int {
            var best = -1
            var value = -Float.infinity
            for (i, v) in x.enumerated() where v > value { best = i; value = v }
            return best >= 0 ? best : x.firstIndex { !$0.isNaN } ?? 0
        }
        var rng = SplitMix64(seed: 0x5A_0001)
        let pool: [Float] = [.nan, -.infinity, .infinity, 0, -0.0, 1, -1, 2, 2, 1e-45, -3e38]
        for length in 0 ... 70 {
            for _ in 0 ..< 40 {
                let x = (0 ..< length).map { _ in pool[Int.random(in: 0 ..< pool.count, using: &rng)] }
                XCTAssertEqual(x.withUnsafeBufferPointer { Sampler.argmax($0) }, definition(x), "\(x)")
            }
        }
    }

    func testCounterGeneratorMatchesSplitMix64() {
        // SplitMix64 seeded with 0: its first outputs are the published sequence.
        XCTAssertEqual(Sampler.random(seed: 0, counter: 0), 0xE220A8397B1DCDAF)
        XCTAssertEqual(Sampler.random(seed: 0, counter: 1), 0x6E789E6AA1B965F4)
    }

    func testStochasticChoiceFollowsIntegerWeights() {
        // Two equal logits at temperature 1: weights are 2^32 each, so u < 2^63 picks id 0.
        let logits: [Float] = [0, 0]
        var counts = [0, 0]
        for i in 0..<2000 {
            let id = logits.withUnsafeBufferPointer { Sampler.sample($0, settings: SamplerSettings(temperature: 1, seed: 99), index: i) }
            counts[Int(id)] += 1
            let u = Sampler.random(seed: 99, counter: UInt64(i))
            XCTAssertEqual(Int(id), u < (1 << 63) ? 0 : 1)
        }
        XCTAssertGreaterThan(counts[0], 900)
        XCTAssertGreaterThan(counts[1], 900)
    }

    /// `RunningArgmax` fed a row in slices of every width chooses what `argmax` of the whole row
    /// does, on rows full of ties, signed zeros, infinities and NaNs (a greedy replay's head).
    func testRunningArgmaxOverSlicesMatchesArgmaxOfTheRow() {
        var rng = SplitMix64(seed: 0x5A_0002)
        let pool: [Float] = [.nan, -.infinity, .infinity, 0, -0.0, 1, -1, 2, 2, 1e-45, -3e38]
        var checked = 0
        for length in 1 ... 40 {
            for _ in 0 ..< 30 {
                let x = (0 ..< length).map { _ in pool[Int.random(in: 0 ..< pool.count, using: &rng)] }
                x.withUnsafeBufferPointer { row in
                    let whole = Sampler.argmax(row)
                    for width in 1 ... length {
                        var running = RunningArgmax()
                        for v0 in stride(from: 0, to: length, by: width) {
                            running.add(UnsafeBufferPointer(rebasing: row[v0 ..< min(v0 + width, length)]), offset: v0)
                        }
                        XCTAssertEqual(Int(running.token), whole, "\(x) in slices of \(width)")
                        checked += 1
                    }
                }
            }
        }
        XCTAssertEqual(checked, 30 * (1 ... 40).reduce(0, +))
        XCTAssertEqual(RunningArgmax().token, 0)
    }
}
