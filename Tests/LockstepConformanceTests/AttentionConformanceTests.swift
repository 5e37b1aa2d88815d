import XCTest
import LockstepTestSupport
import LockstepCore
import LockstepCPU

/// Attention (exact Q·Kᵀ, ordered softmax, exact P·V) over GQA ratios, head dimensions, cache
/// lengths and row batches, bit for bit.
final class AttentionConformanceTests: XCTestCase {
    static let shapes: [AttentionShape] = [
        AttentionShape(heads: 9, kvHeads: 3, headDim: 64),   // the real model
        AttentionShape(heads: 4, kvHeads: 4, headDim: 32),   // no grouping
        AttentionShape(heads: 6, kvHeads: 2, headDim: 48),   // a padded block
        AttentionShape(heads: 8, kvHeads: 1, headDim: 64),   // multi-query
        AttentionShape(heads: 2, kvHeads: 1, headDim: 96),   // three blocks
        AttentionShape(heads: 3, kvHeads: 1, headDim: 16),   // shorter than one block
    ]

    enum Data: String, CaseIterable {
        case normal      // typical scores
        case sharp       // large scores: a peaked softmax, probabilities across many binades
        case wide        // key/value blocks across many binades
        case tiny        // subnormal inputs
        case huge        // scores overflow to ±inf (softmax then yields NaN, quantised to 0)
    }

    private func fill(_ n: Int, _ data: Data, scale: Float, rng: inout SplitMix64) -> [Float] {
        switch data {
        case .normal: return FloatKind.normal.make(n, rng: &rng)
        case .sharp: return FloatKind.normal.make(n, rng: &rng).map { $0 * scale }
        case .wide: return FloatKind.wideBlocks.make(n, rng: &rng)
        case .tiny: return FloatKind.tiny.make(n, rng: &rng)
        case .huge: return FloatKind.huge.make(n, rng: &rng)
        }
    }

    func testAttention() {
        let reference = ReferenceBackend()
        let counter = ComparisonCounter()
        var rng = SplitMix64(seed: 0xA7_0001)
        for shape in Self.shapes {
            for length in [1, 2, 33, 70] {
                for data in Data.allCases {
                    let cache = KVCache(layers: 2, shape: shape)
                    let width = shape.kvHeads * shape.headDim
                    // Layer 0 stays empty-ish: fill layer 1 so the layer index matters.
                    let k = fill(length * width, data, scale: 6, rng: &rng), v = fill(length * width, data, scale: 1, rng: &rng)
                    k.withUnsafeBufferPointer { kp in v.withUnsafeBufferPointer { vp in
                        cache.append(layer: 1, keys: kp, values: vp, rows: length) } }
                    let batches: [[Int]] = [[length - 1], Array(0..<min(length, 17)), (0..<3).map { _ in rng.int(0...length - 1) }]
                    for positions in batches {
                        let rows = positions.count
                        let q = fill(rows * shape.heads * shape.headDim, data, scale: 6, rng: &rng)
                        var want = [Float](repeating: .nan, count: rows * shape.heads * shape.headDim)
                        q.withUnsafeBufferPointer { qp in want.withUnsafeMutableBufferPointer {
                            reference.attention(queries: qp, rows: rows, positions: positions, cache: cache, layer: 1, into: $0) } }
                        for (label, backend) in BackendsUnderTest.all {
                            var got = [Float](repeating: .nan, count: want.count)
                            q.withUnsafeBufferPointer { qp in got.withUnsafeMutableBufferPointer {
                                backend.attention(queries: qp, rows: rows, positions: positions, cache: cache, layer: 1, into: $0) } }
                            assertSameBits(got, want, "attention \(shape.heads)/\(shape.kvHeads)×\(shape.headDim) len \(length) rows \(positions) \(data) \(label)",
                                           counter: counter)
                        }
                    }
                }
            }
        }
        XCTAssertEqual(counter.cases, Self.shapes.count * 4 * Data.allCases.count * 3 * BackendsUnderTest.all.count)
    }

    /// Typical attention stays on the int64 fast path; scores with tiny products (subnormal
    /// results) take the exact fallback; both agree with the reference.
    func testFastPathAndExactFallbackBothRun() {
        let reference = ReferenceBackend()
        var rng = SplitMix64(seed: 0xA7_0002)
        let shape = AttentionShape(heads: 9, kvHeads: 3, headDim: 64)
        for (data, expectFallback) in [(Data.normal, false), (Data.tiny, true)] {
            let cache = KVCache(layers: 1, shape: shape)
            let n = 40 * 3 * 64
            let k = fill(n, data, scale: 1, rng: &rng), v = fill(n, data, scale: 1, rng: &rng)
            k.withUnsafeBufferPointer { kp in v.withUnsafeBufferPointer { vp in cache.append(layer: 0, keys: kp, values: vp, rows: 40) } }
            let q = fill(9 * 64, data, scale: 1, rng: &rng)
            var want = [Float](repeating: .nan, count: 9 * 64)
            q.withUnsafeBufferPointer { qp in want.withUnsafeMutableBufferPointer {
                reference.attention(queries: qp, rows: 1, positions: [39], cache: cache, layer: 0, into: $0) } }
            for (label, backend) in BackendsUnderTest.all {
                CPUPathCounters.reset()
                var got = [Float](repeating: .nan, count: 9 * 64)
                q.withUnsafeBufferPointer { qp in got.withUnsafeMutableBufferPointer {
                    backend.attention(queries: qp, rows: 1, positions: [39], cache: cache, layer: 0, into: $0) } }
                let c = CPUPathCounters.read()
                assertSameBits(got, want, "attention paths \(data) \(label)")
                XCTAssertGreaterThan(c.attentionSums, 0)
                if expectFallback { XCTAssertGreaterThan(c.attentionExactFallbacks, 0, "\(label)") }
                else { XCTAssertEqual(c.attentionExactFallbacks, 0, "\(label)") }
            }
        }
    }
}
