import XCTest
import LockstepCore
import LockstepModel
import LockstepTokenizer

/// The verifier's recomputation of a layer step (§8.1) — `fillCache` over the earlier rows, then
/// `applyLayer` on the one row — against the whole block over every row, as a forward pass runs
/// it: the same output bits and the same key/value cache, on every backend.
final class FillCacheTests: XCTestCase {
    /// The input of every layer (the residual stream before it, `[n × dim]`) of a reference
    /// forward pass over `tokens`.
    private func layerInputs(_ model: LlamaModel, _ tokens: [TokenID]) throws -> [[Float]] {
        let c = model.config
        var inputs: [[Float]] = []
        _ = try model.forward(tokens: tokens, start: 0, cache: KVCache(layers: c.layers, shape: c.attentionShape),
                              backend: ReferenceBackend(), logits: .none) { layer, x in
            if (layer ?? -1) < c.layers - 1 { inputs.append(Array(x)) }
        }
        return inputs
    }

    private func buffer(_ values: ArraySlice<Float>) -> FloatBuffer {
        let b = FloatBuffer(count: values.count)
        _ = b.mutable.initialize(from: values)
        return b
    }

    /// Cache entries of the first `positions` positions of `layer`.
    private func entries(_ cache: KVCache, layer l: Int, positions: Int) -> [[Int]] {
        let blocks = positions * cache.blocksPerPosition
        return [cache.keys[l][..<(blocks * 32)].map(Int.init), cache.keyExponents[l][..<blocks].map(Int.init),
                cache.values[l][..<(blocks * 32)].map(Int.init), cache.valueExponents[l][..<blocks].map(Int.init)]
    }

    func testCacheFillThenOneRowEqualsTheWholeBlockOnEveryBackend() throws {
        let backends = [("reference", ReferenceBackend() as any Backend)] + (try ModelFixtures.acceleratedBackends())
        for spec in ModelFixtures.tinySpecs {
            let model = try ModelFixtures.tiny(spec), c = model.config, dim = c.dim
            let tokens = model.tokenizer.encode("The quick brown fox, 1234 times!", addSpecial: false)
            let n = tokens.count
            let inputs = try layerInputs(model, tokens)
            XCTAssertEqual(inputs.count, c.layers)
            for l in 0 ..< c.layers {
                // The trace's path: the whole block over rows 0 … n − 1 on the reference backend.
                let full = buffer(inputs[l][...])
                let fullCache = KVCache(layers: c.layers, shape: c.attentionShape)
                model.applyLayer(l, to: full, rows: n, start: 0, cache: fullCache, backend: ReferenceBackend())
                let source = buffer(inputs[l][...])
                for (label, backend) in backends {
                    for p in Set([0, 1, n / 2, n - 1]).sorted() {
                        let what = "seed \(spec.seed), layer \(l), \(label), row \(p)"
                        let cache = KVCache(layers: c.layers, shape: c.attentionShape)
                        // Rows 0 … p − 1 into the cache, in two calls when p > 1 (the second one
                        // appends to a cache that already holds positions).
                        for (from, to) in [(0, p / 2), (p / 2, p)] where to > from {
                            model.fillCache(layer: l, from: source.readOnly(from * dim ..< to * dim), rows: to - from, start: from,
                                            cache: cache, backend: backend)
                        }
                        let row = buffer(inputs[l][p * dim ..< (p + 1) * dim])
                        model.applyLayer(l, to: row, rows: 1, start: p, cache: cache, backend: backend)
                        XCTAssertEqual(row.readOnly.map(\.bitPattern), full.readOnly(p * dim ..< (p + 1) * dim).map(\.bitPattern), what)
                        XCTAssertEqual(cache.length(layer: l), p + 1, what)
                        XCTAssertEqual(entries(cache, layer: l, positions: p + 1), entries(fullCache, layer: l, positions: p + 1), what)
                    }
                }
            }
        }
    }
}
