import LockstepNative

/// One step of a traced request (§7.2): the embedding of a position, one layer at a position,
/// or the sampling of the token that follows a position.
public struct StepID: Hashable, Sendable, CustomStringConvertible {
    /// What the step computes.
    public enum Kind: UInt8, Sendable {
        /// The embedding row of the position's token; output: the residual row (`dim` binary32).
        case embedding = 0
        /// One transformer block; output: the residual row after it (`dim` binary32).
        case layer = 1
        /// The output head and the sampler; output: the logits row (`vocab` binary32) and the
        /// chosen token id (u32).
        case sample = 2
    }

    /// The `layer` field's value for embedding and sample steps.
    public static let noLayer: UInt32 = 0xFFFF_FFFF

    public let kind: Kind
    /// Token position (0 = the first prompt token).
    public let position: UInt32
    /// The layer, for `.layer` steps; `noLayer` otherwise.
    public let layer: UInt32

    public static func embedding(_ position: Int) -> StepID { StepID(kind: .embedding, position: UInt32(position), layer: noLayer) }
    public static func layer(_ position: Int, _ layer: Int) -> StepID { StepID(kind: .layer, position: UInt32(position), layer: UInt32(layer)) }
    public static func sample(_ position: Int) -> StepID { StepID(kind: .sample, position: UInt32(position), layer: noLayer) }

    init(kind: Kind, position: UInt32, layer: UInt32) {
        self.kind = kind; self.position = position; self.layer = layer
    }

    /// The 9-byte step header: kind (u8), position (u32), layer (u32).
    public var header: [UInt8] {
        var w = ByteWriter(capacity: 9)
        w.u8(kind.rawValue); w.u32(position); w.u32(layer)
        return w.bytes
    }

    public var description: String {
        switch kind {
        case .embedding: return "embedding@\(position)"
        case .layer: return "layer \(layer)@\(position)"
        case .sample: return "sample@\(position)"
        }
    }
}

/// The canonical order of the steps of a request (§7.2), independent of how the forward passes
/// were batched: position by position; at each position the embedding, then every layer, then —
/// from the last prompt position on — the sample step that chooses the next token.
public struct StepSchedule: Sendable, Equatable {
    /// Prompt tokens (n_p ≥ 1).
    public let promptCount: Int
    /// Transformer blocks.
    public let layers: Int

    public init(promptCount: Int, layers: Int) {
        precondition(promptCount >= 1 && layers >= 1, "StepSchedule needs at least one prompt token and one layer")
        self.promptCount = promptCount; self.layers = layers
    }

    /// Steps of a request that generated `outputCount` tokens: `(n_p + n_g − 1)(layers + 1) + n_g`,
    /// or 0 when nothing was generated (no forward pass runs).
    public func leafCount(outputCount: Int) -> Int {
        outputCount == 0 ? 0 : (promptCount + outputCount - 1) * (layers + 1) + outputCount
    }

    /// The step at `index` (any index ≥ 0: the schedule continues for as long as tokens are generated).
    public func step(at index: Int) -> StepID {
        let prefix = (promptCount - 1) * (layers + 1)  // positions before the last prompt token: no sample step
        if index < prefix {
            let p = index / (layers + 1), k = index % (layers + 1)
            return k == 0 ? .embedding(p) : .layer(p, k - 1)
        }
        let j = index - prefix
        let p = promptCount - 1 + j / (layers + 2), k = j % (layers + 2)
        if k == 0 { return .embedding(p) }
        if k <= layers { return .layer(p, k - 1) }
        return .sample(p)
    }

    /// Index of the first step of `position`.
    public func firstIndex(ofPosition p: Int) -> Int {
        if p < promptCount { return p * (layers + 1) }
        return (promptCount - 1) * (layers + 1) + (p - promptCount + 1) * (layers + 2)
    }

    /// Index of the sample step that chooses output token `j` (j ≥ 0): the last step of position
    /// n_p − 1 + j.
    public func sampleIndex(ofOutput j: Int) -> Int {
        firstIndex(ofPosition: promptCount - 1 + j) + layers + 1
    }
}

/// Step digests `oᵢ` (§7.3).
public enum StepDigest {
    /// `SHA-256("lockstep.step.v1" 0x00 ‖ header ‖ residual row)` for an embedding or layer step.
    /// `row` holds `dim` binary32 values; hashed as their little-endian bit patterns.
    public static func state(_ step: StepID, row: UnsafeBufferPointer<Float>, hasher: SHA256Hasher) -> Digest {
        hasher.reset()
        hasher.update(DomainTag.step)
        hasher.update(step.header)
        updateFloats(hasher, row)
        return hasher.finalize()
    }

    /// `SHA-256("lockstep.step.v1" 0x00 ‖ header ‖ logits row ‖ u32 token)` for a sample step.
    public static func sample(_ step: StepID, logits: UnsafeBufferPointer<Float>, token: UInt32, hasher: SHA256Hasher) -> Digest {
        hasher.reset()
        hasher.update(DomainTag.step)
        hasher.update(step.header)
        updateFloats(hasher, logits)
        hasher.update(littleEndian: token)
        return hasher.finalize()
    }

    /// The digests of several embedding or layer steps at once (`SHA256Lanes`): `digests[i]` is
    /// `state(steps[i], row: rows[i · dim ..< (i + 1) · dim])`.
    /// - Parameters:
    ///   - rows: `steps.count × dim` binary32, row-major.
    ///   - digests: `steps.count` digests, written.
    public static func states(_ steps: [StepID], rows: UnsafeBufferPointer<Float>, dim: Int, hasher: SHA256Hasher,
                              into digests: UnsafeMutableBufferPointer<Digest>) {
        precondition(rows.count == steps.count * dim && digests.count == steps.count, "StepDigest.states: shapes")
        #if _endian(little)
        inLanes(steps, states: UnsafeRawBufferPointer(rows), tokens: nil, hasher: hasher, into: digests)
        #else
        for (i, step) in steps.enumerated() { digests[i] = state(step, row: UnsafeBufferPointer(rebasing: rows[i * dim ..< (i + 1) * dim]), hasher: hasher) }
        #endif
    }

    /// The digests of several sample steps at once (`SHA256Lanes`): `digests[i]` is
    /// `sample(steps[i], logits: logits[i · vocab ..< (i + 1) · vocab], token: tokens[i])`.
    /// - Parameters:
    ///   - logits: `steps.count × vocab` binary32, row-major.
    ///   - digests: `steps.count` digests, written.
    public static func samples(_ steps: [StepID], logits: UnsafeBufferPointer<Float>, vocab: Int, tokens: [UInt32],
                               hasher: SHA256Hasher, into digests: UnsafeMutableBufferPointer<Digest>) {
        precondition(logits.count == steps.count * vocab && tokens.count == steps.count && digests.count == steps.count,
                     "StepDigest.samples: shapes")
        #if _endian(little)
        inLanes(steps, states: UnsafeRawBufferPointer(logits), tokens: tokens, hasher: hasher, into: digests)
        #else
        for (i, step) in steps.enumerated() {
            digests[i] = sample(step, logits: UnsafeBufferPointer(rebasing: logits[i * vocab ..< (i + 1) * vocab]), token: tokens[i], hasher: hasher)
        }
        #endif
    }

    /// The digests of several steps of one kind from their stored state bytes at once
    /// (`SHA256Lanes`): `digests[i]` is `stored(steps[i], stateBytes:)` of bytes
    /// `i · n ..< (i + 1) · n` of `states`, `n = states.count / steps.count`.
    public static func stored(_ steps: [StepID], states: UnsafeRawBufferPointer, hasher: SHA256Hasher,
                              into digests: UnsafeMutableBufferPointer<Digest>) {
        precondition(digests.count == steps.count && (steps.isEmpty || states.count % steps.count == 0), "StepDigest.stored: shapes")
        inLanes(steps, states: states, tokens: nil, hasher: hasher, into: digests)
    }

    /// The tokens as the u32 little-endian bytes that end their sample steps' messages.
    static func littleEndianBytes(_ tokens: [UInt32]) -> [UInt8] {
        tokens.flatMap { t in (0 ..< 4).map { UInt8(truncatingIfNeeded: t >> (8 * $0)) } }
    }

    /// `SHA-256(tag ‖ header of steps[m] ‖ state m [‖ u32 tokens[m]])` for every m, in lanes;
    /// the states are `states.count / steps.count` bytes each, one after another.
    private static func inLanes(_ steps: [StepID], states: UnsafeRawBufferPointer, tokens: [UInt32]?,
                                hasher: SHA256Hasher, into digests: UnsafeMutableBufferPointer<Digest>) {
        guard !steps.isEmpty else { return }
        let headers = steps.flatMap(\.header)                               // [n × 9] step headers
        let suffixes = tokens.map(littleEndianBytes) ?? []
        let headerBytes = headers.count / steps.count, stateBytes = states.count / steps.count
        let lengths = [DomainTag.step.count, headerBytes, stateBytes] + (tokens == nil ? [] : [4])
        DomainTag.step.withUnsafeBytes { tag in
            headers.withUnsafeBytes { headers in
                suffixes.withUnsafeBytes { suffixes in
                    SHA256Lanes.hash(into: digests, partLengths: lengths, hasher: hasher) { m, j in
                        switch j {
                        case 0: return tag.baseAddress!
                        case 1: return headers.baseAddress! + headerBytes * m
                        case 2: return (states.baseAddress ?? tag.baseAddress!) + stateBytes * m
                        default: return suffixes.baseAddress! + 4 * m
                        }
                    }
                }
            }
        }
    }

    /// `SHA-256("lockstep.step.v1" 0x00 ‖ header ‖ state)` with the state's canonical bytes given
    /// as they are stored in a trace file.
    public static func stored(_ step: StepID, stateBytes: UnsafeRawBufferPointer, hasher: SHA256Hasher) -> Digest {
        hasher.reset()
        hasher.update(DomainTag.step)
        hasher.update(step.header)
        hasher.update(stateBytes)
        return hasher.finalize()
    }

    static func updateFloats(_ hasher: SHA256Hasher, _ values: UnsafeBufferPointer<Float>) {
        #if _endian(little)
        hasher.update(UnsafeRawBufferPointer(values))
        #else
        for v in values { hasher.update(littleEndian: v) }
        #endif
    }
}

/// The digests of the sample steps of consecutive rows whose logits arrive a vocabulary slice at a
/// time (`LlamaModel.logitSlices`): each slice is hashed into every row's message while it is in
/// cache (`SHA256LaneStream`), so the `rows × vocab` logits are never held at once. The digests
/// are `StepDigest.sample`'s. Little-endian hosts only (the logits are hashed as stored).
public final class SampleDigestStream {
    private let stream: SHA256LaneStream

    /// Starts the messages of `steps` (sample steps): their domain tag and step headers.
    public init(_ steps: [StepID]) {
        stream = SHA256LaneStream(count: steps.count)
        let headers = steps.flatMap(\.header)                               // [n × 9] step headers
        let headerBytes = steps.isEmpty ? 0 : headers.count / steps.count
        DomainTag.step.withUnsafeBytes { tag in
            headers.withUnsafeBytes { headers in
                for g in 0 ..< stream.groups {
                    stream.update(group: g, tag)
                    stream.update(group: g, length: headerBytes) { headers.baseAddress! + headerBytes * $0 }
                }
            }
        }
    }

    /// Groups of rows that `add` and `finish` take one at a time (any thread, one group per
    /// thread at a time).
    public var groups: Int { stream.groups }
    /// The rows of group `g`.
    public func rows(inGroup g: Int) -> Range<Int> { stream.messages(inGroup: g) }

    /// Appends the next slice of the logits of group `g`'s rows: `logits` is `[rows × width]`
    /// for every row of the stream (row-major), of which the group's rows are read.
    public func add(group g: Int, logits: UnsafeBufferPointer<Float>, width: Int) {
        #if _endian(little)
        precondition(width >= 0 && logits.count == stream.count * width, "SampleDigestStream.add: shapes")
        guard width > 0 else { return }
        stream.update(group: g, length: 4 * width) { UnsafeRawPointer(logits.baseAddress! + width * $0) }
        #else
        fatalError("SampleDigestStream hashes logits as stored: little-endian hosts only")
        #endif
    }

    /// Appends each row's chosen token and writes the digests of group `g`'s rows to
    /// `digests[row]`. The group is spent.
    public func finish(group g: Int, token: (_ row: Int) -> UInt32, into digests: UnsafeMutableBufferPointer<Digest>) {
        let rows = rows(inGroup: g), first = rows.lowerBound
        let bytes = StepDigest.littleEndianBytes(rows.map(token))
        bytes.withUnsafeBytes { bytes in
            stream.update(group: g, length: 4) { bytes.baseAddress! + 4 * ($0 - first) }
        }
        stream.finalize(group: g, into: digests)
    }
}

/// The hash chain (§7.3): `c₀ = SHA-256("lockstep.chain.v1" 0x00 ‖ request digest)`,
/// `cᵢ = SHA-256(cᵢ₋₁ ‖ oᵢ)` — here `cᵢ` is the value after step i (0-based), so agreeing on one
/// chain value means agreeing on the request and every step up to it.
public enum TraceChain {
    /// The chain's starting value for a request.
    public static func start(requestDigest: Digest) -> Digest {
        let h = SHA256Hasher()
        h.update(DomainTag.chain)
        h.update(requestDigest)
        return h.finalize()
    }

    /// The next chain value.
    public static func next(_ previous: Digest, _ stepDigest: Digest, hasher: SHA256Hasher = SHA256Hasher()) -> Digest {
        hasher.reset()
        hasher.update(previous)
        hasher.update(stepDigest)
        return hasher.finalize()
    }

    /// The chain value each of `leaves` should hold, from the chain value before the first and
    /// each leaf's predecessor: `links[i] = next(i == 0 ? previous : leaves[i − 1].chain,
    /// leaves[i].stepDigest)`, hashed in lanes (`SHA256Lanes`). A stored chain is intact where
    /// `links[i] == leaves[i].chain` for every i.
    public static func links(after previous: Digest, leaves: UnsafeBufferPointer<TraceLeaf>, hasher: SHA256Hasher,
                             into links: UnsafeMutableBufferPointer<Digest>) {
        precondition(links.count == leaves.count, "TraceChain.links: \(links.count) outputs for \(leaves.count) leaves")
        guard let base = leaves.baseAddress else { return }
        let chain = TraceLeaf.offset(\.chain), stepDigest = TraceLeaf.offset(\.stepDigest)
        withUnsafeBytes(of: previous) { previous in
            SHA256Lanes.hash(into: links, partLengths: [Digest.byteCount, Digest.byteCount], hasher: hasher) { m, j in
                if j == 1 { return UnsafeRawPointer(base + m) + stepDigest }
                return m == 0 ? previous.baseAddress! : UnsafeRawPointer(base + m - 1) + chain
            }
        }
    }
}

/// A Merkle leaf of a trace (§7.4): `index (u64) ‖ oᵢ ‖ cᵢ`, 72 bytes.
public struct TraceLeaf: Hashable, Sendable {
    /// Encoded size in bytes.
    public static let byteCount = 72

    public let index: UInt64
    /// The step digest oᵢ.
    public let stepDigest: Digest
    /// The chain value cᵢ.
    public let chain: Digest

    public init(index: UInt64, stepDigest: Digest, chain: Digest) {
        self.index = index; self.stepDigest = stepDigest; self.chain = chain
    }

    /// Parses 72 bytes. - Throws: `TraceError.malformed` for any other length.
    public init(bytes: [UInt8]) throws(TraceError) {
        guard bytes.count == TraceLeaf.byteCount else {
            throw .malformed(offset: 0, "a trace leaf is \(TraceLeaf.byteCount) bytes, got \(bytes.count)")
        }
        var r = ByteReader(bytes)
        do {
            index = try r.u64("leaf index")
            stepDigest = try r.digest("step digest")
            chain = try r.digest("chain value")
        } catch { throw .malformed(offset: r.offset, error.message) }
    }

    /// The 72-byte encoding.
    public var bytes: [UInt8] { withEncoding { Array($0) } }

    /// `SHA-256(0x00 ‖ bytes)`.
    public func hash(_ hasher: MerkleHasher = .rfc6962) -> Digest { withEncoding { hasher.leafHash($0) } }

    /// `SHA-256(0x00 ‖ bytes)` computed with `hasher` (reset first).
    public func hash(using hasher: SHA256Hasher) -> Digest { withEncoding { MerkleHasher.rfc6962.leafHash($0, using: hasher) } }

    /// `hashes[i] = leaves[i].hash()` for every i, hashed in lanes (`SHA256Lanes`) straight from
    /// the leaves' fields: the encoding is the fields in memory order on a little-endian host.
    public static func hashes(_ leaves: UnsafeBufferPointer<TraceLeaf>, hasher: SHA256Hasher, into hashes: UnsafeMutableBufferPointer<Digest>) {
        precondition(hashes.count == leaves.count, "TraceLeaf.hashes: \(hashes.count) outputs for \(leaves.count) leaves")
        guard let base = leaves.baseAddress else { return }
        #if _endian(little)
        let fields = [offset(\.index), offset(\.stepDigest), offset(\.chain)]
        withUnsafeBytes(of: MerkleHasher.leafPrefix) { prefix in
            SHA256Lanes.hash(into: hashes, partLengths: [1, 8, Digest.byteCount, Digest.byteCount], hasher: hasher) { m, j in
                j == 0 ? prefix.baseAddress! : UnsafeRawPointer(base + m) + fields[j - 1]
            }
        }
        #else
        for i in leaves.indices { hashes[i] = leaves[i].hash(using: hasher) }
        #endif
    }

    /// The byte offset of a field in a leaf's memory.
    static func offset<T>(_ field: KeyPath<TraceLeaf, T>) -> Int {
        guard let offset = MemoryLayout<TraceLeaf>.offset(of: field) else { fatalError("TraceLeaf: \(field) is not a stored field") }
        return offset
    }

    /// Calls `body` with the 72-byte encoding, written on the stack (valid only during the call):
    /// the one place the layout `index (u64) ‖ oᵢ ‖ cᵢ` is written.
    private func withEncoding<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        withUnsafeTemporaryAllocation(byteCount: TraceLeaf.byteCount, alignment: 8) { leaf in
            leaf.storeBytes(of: index.littleEndian, toByteOffset: 0, as: UInt64.self)
            stepDigest.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: leaf[8 ..< 40]).copyMemory(from: $0) }
            chain.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: leaf[40 ..< 72]).copyMemory(from: $0) }
            return body(UnsafeRawBufferPointer(leaf))
        }
    }

    /// Checks that this leaf is leaf `proof.index` of the trace tree with root `root`.
    /// - Throws: `MerkleError.wrongLeaf` when the leaf's own index is not the proof's, then any
    ///   error of `MerkleVerifier.verifyInclusion`.
    public func verifyInclusion(proof: InclusionProof, root: Digest) throws(MerkleError) {
        guard index == proof.index else { throw .wrongLeaf(leafIndex: index, proofIndex: proof.index) }
        try MerkleVerifier.verifyInclusion(leafHash: hash(), proof: proof, root: root)
    }
}
