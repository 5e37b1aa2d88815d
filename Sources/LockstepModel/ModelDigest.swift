import Foundation
import LockstepGGUF
import LockstepNative
import LockstepTokenizer

extension LlamaModel {
    /// The model digest (SPEC §5.1): SHA-256 over a canonical encoding of the configuration,
    /// everything that decides tokenisation and stopping (vocabulary, scores, types, merges,
    /// special ids, flags, chat template) and every tensor (sorted by name: name, type,
    /// dimensions, data bytes).
    /// Every field is length-prefixed (u64 little-endian), so no two models share an encoding.
    /// Costs one pass over the weights (about 0.1 s for the real model).
    public func digest() -> Digest {
        let h = SHA256Hasher()
        func u64(_ v: Int) { h.update(withUnsafeBytes(of: UInt64(v).littleEndian) { Array($0) }) }
        func bytes(_ b: [UInt8]) { u64(b.count); h.update(b) }
        func string(_ s: String) { bytes(Array(s.utf8)) }
        string("lockstep.model-digest.v1")
        let c = config
        for v in [c.dim, c.layers, c.heads, c.kvHeads, c.headDim, c.ffnDim, c.vocabularySize, c.ropeDimensions, c.contextLength] { u64(v) }
        u64(Int(c.rmsEpsilon.bitPattern)); u64(Int(c.ropeBase.bitPattern))
        let v = tokenizer.vocabulary
        string(v.model); string(v.pre ?? "")
        u64(v.tokens.count); for t in v.tokens { string(t) }
        let scores = v.scores ?? []
        u64(scores.count); for x in scores { u64(Int(x.bitPattern)) }
        let types = v.tokenTypes ?? []
        u64(types.count); for t in types { u64(Int(UInt32(bitPattern: t))) }
        u64(v.merges.count); for m in v.merges { string(m) }
        for id in [v.bosID, v.eosID, v.eotID, v.unknownID, v.paddingID] { u64(id.map { Int(UInt32(bitPattern: $0)) + 1 } ?? 0) }
        u64(v.addBOS ? 1 : 0); u64(v.addEOS ? 1 : 0)
        u64(v.addSpacePrefix.map { $0 ? 2 : 1 } ?? 0)
        string(v.chatTemplate ?? "")
        let tensors = file.tensors.sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
        u64(tensors.count)
        for t in tensors {
            string(t.name); u64(Int(t.type.rawValue)); u64(t.dimensions.count)
            for d in t.dimensions { u64(d) }
            let data = file.data(for: t)
            u64(data.count)
            h.update(data)
        }
        return h.finalize()
    }
}
