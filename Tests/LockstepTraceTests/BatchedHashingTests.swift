import XCTest
import LockstepNative
import LockstepTestSupport
@testable import LockstepTrace

/// The batched hashes (SHA-256 lanes) give the one-message definitions' digests, at counts around
/// the lane groups: step digests (`states`, `samples`, `stored`, §7.3), chain links, leaf hashes
/// and tree nodes (§7.4).
final class BatchedHashingTests: XCTestCase {
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

    func testBatchedChainLinksLeafHashesAndNodesEqualTheOneAtATimeDefinitions() {
        var rng = SplitMix64(seed: 11)
        let hasher = SHA256Hasher()
        let random = { (rng: inout SplitMix64) in Digest(bytes: (0 ..< 32).map { _ in UInt8.random(in: 0 ... 255, using: &rng) }) }
        for count in [1, 2, 7, 8, 15, 16, 17, 40] {
            let start = random(&rng)
            var chain = start
            var leaves = (0 ..< count).map { i -> TraceLeaf in
                let o = random(&rng)
                chain = TraceChain.next(chain, o)
                return TraceLeaf(index: UInt64.random(in: 0 ... .max, using: &rng), stepDigest: o, chain: chain)
            }
            if count > 3 { leaves[3] = TraceLeaf(index: leaves[3].index, stepDigest: leaves[3].stepDigest, chain: random(&rng)) }   // a broken link
            leaves.withUnsafeBufferPointer { leaves in
                let links = [Digest](unsafeUninitializedCapacity: count) { out, n in
                    TraceChain.links(after: start, leaves: leaves, hasher: hasher, into: out); n = count
                }
                XCTAssertEqual(links, (0 ..< count).map { TraceChain.next($0 == 0 ? start : leaves[$0 - 1].chain, leaves[$0].stepDigest) }, "\(count) links")
                XCTAssertEqual(zip(links, leaves).filter { $0 != $1.chain }.count, count > 3 ? (count > 4 ? 2 : 1) : 0, "\(count) links: the broken one and its successor")
                let hashes = [Digest](unsafeUninitializedCapacity: count) { out, n in
                    TraceLeaf.hashes(leaves, hasher: hasher, into: out); n = count
                }
                XCTAssertEqual(hashes, leaves.map { $0.hash() }, "\(count) leaf hashes")
            }
            let level = (0 ..< count).map { _ in random(&rng) }
            let parents = level.withUnsafeBufferPointer { level in
                [Digest](unsafeUninitializedCapacity: count / 2) { out, n in
                    MerkleHasher.rfc6962.parentHashes(level, hasher: hasher, into: out); n = count / 2
                }
            }
            XCTAssertEqual(parents, (0 ..< count / 2).map { MerkleHasher.rfc6962.nodeHash(level[2 * $0], level[2 * $0 + 1]) }, "\(count) nodes")
        }
    }
}
