import XCTest
import LockstepNative
import LockstepTestSupport
@testable import LockstepTrace

/// The batched step digests (`states`, `samples`, `stored`: rows hashed in SHA-256 lanes) give
/// the digests of the one-row definitions (§7.3) for every row, at counts around the lane groups.
final class StepDigestTests: XCTestCase {
    func testBatchedDigestsEqualTheOneRowDefinitions() {
        var rng = SplitMix64(seed: 73)
        let hasher = SHA256Hasher()
        for (rows, width) in [(1, 5), (7, 64), (8, 64), (9, 576), (16, 576), (33, 576), (20, 1000)] {
            let values = (0 ..< rows * width).map { _ in Float(bitPattern: UInt32.random(in: 0 ... .max, using: &rng)) }
            let tokens = (0 ..< rows).map { _ in UInt32.random(in: 0 ... .max, using: &rng) }
            let layerSteps = (0 ..< rows).map { StepID.layer(100 + $0, $0 % 30) }
            let sampleSteps = (0 ..< rows).map { StepID.sample(7 + $0) }
            values.withUnsafeBufferPointer { all in
                let row = { (i: Int) in UnsafeBufferPointer(rebasing: all[i * width ..< (i + 1) * width]) }
                let states = [Digest](unsafeUninitializedCapacity: rows) { out, n in
                    StepDigest.states(layerSteps, rows: all, dim: width, hasher: hasher, into: out); n = rows
                }
                XCTAssertEqual(states, (0 ..< rows).map { StepDigest.state(layerSteps[$0], row: row($0), hasher: hasher) }, "\(rows) × \(width) states")
                let samples = [Digest](unsafeUninitializedCapacity: rows) { out, n in
                    StepDigest.samples(sampleSteps, logits: all, vocab: width, tokens: tokens, hasher: hasher, into: out); n = rows
                }
                XCTAssertEqual(samples, (0 ..< rows).map { StepDigest.sample(sampleSteps[$0], logits: row($0), token: tokens[$0], hasher: hasher) },
                               "\(rows) × \(width) samples")
                let stored = [Digest](unsafeUninitializedCapacity: rows) { out, n in
                    StepDigest.stored(layerSteps, states: UnsafeRawBufferPointer(all), hasher: hasher, into: out); n = rows
                }
                XCTAssertEqual(stored, states, "\(rows) × \(width) stored states")
            }
        }
    }
}
