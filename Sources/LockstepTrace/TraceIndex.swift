import LockstepCore
import LockstepNative

/// Random access to the stored states of a trace file (§7.7), for verifiers that open a few steps
/// (spot-check, §8.3) and should not read and hash every state of a large trace.
///
/// Opening reads the header, every record's fixed part (step header, `oᵢ`, `cᵢ`) and the footer,
/// skipping the states, and makes every check `TraceReader` makes except the two that need the
/// states: that each stored state hashes to its `oᵢ`, and that the tokens at the end of the sample
/// states are the output tokens. So the leaves, the chain, the Merkle root (recomputed from every
/// leaf: each leaf is checked against the signed root), the leaf count and the signature are
/// verified before any state is handed out. `storedState(at:)` then reads one record's state; its
/// bytes are the prover's until checked against the leaf (`StepDigest.stored` must give the
/// leaf's step digest), which the caller does.
///
/// Cost: about three hashes per record (chain, leaf, tree), on every core
/// (`TraceReader.skimRecordsInParallel`), plus the opened states, instead of hashing every state
/// (35 MB for 128 tokens on SmolLM2-135M, 83% of it in the sample steps' logits). The fixed parts
/// are read in spans of up to 256 KiB that hold the embedding and layer states between them (the
/// sample states are skipped); none is kept, and each opened state is read from the file when
/// asked (keeping the 10 MB there would cost more in fresh memory than the reads it saves).
/// Every length is checked against the file's size before anything is allocated.
public final class TraceIndex {
    public let header: TraceHeader
    /// The verified signed commitment.
    public let signed: SignedCommitment
    /// Every leaf, in order (verified: they chain and give the signed root).
    public let leaves: [TraceLeaf]
    private let input: TraceInput
    /// Byte offset of each record's state in the file.
    private let stateOffsets: [Int]
    /// The leaves' Merkle tree as built while indexing (its full levels are made only when
    /// `verifyAll` asks: a spot-check does not need them).
    private let treeBuilder: MerkleTreeBuilder

    /// Opens and indexes the trace file at `path`.
    /// - Throws: `TraceError` as `TraceReader` does, for the first record or footer at fault.
    public convenience init(path: String, expectedPublicKey: Ed25519PublicKey? = nil) throws(TraceError) {
        try self.init(path: path, expectedPublicKey: expectedPublicKey, readBytes: skimReadBytes)
    }

    /// `readBytes`: the most bytes one read of the records fetches; `gapBytes`: the largest state
    /// one read takes along (tests vary both, down to one record's fixed part per read).
    convenience init(path: String, expectedPublicKey: Ed25519PublicKey?, readBytes: Int, gapBytes: Int = skimGapBytes) throws(TraceError) {
        // A window of one record's fixed part for the one-by-one read: the states in between are skipped.
        try self.init(input: try TraceInput(path: path, windowBytes: stepRecordFixedBytes), expectedPublicKey: expectedPublicKey,
                      readBytes: readBytes, gapBytes: gapBytes)
    }

    /// Indexes a trace held in memory.
    public convenience init(bytes: [UInt8], expectedPublicKey: Ed25519PublicKey? = nil) throws(TraceError) {
        try self.init(input: TraceInput(bytes: bytes), expectedPublicKey: expectedPublicKey, readBytes: skimReadBytes, gapBytes: skimGapBytes)
    }

    private init(input: TraceInput, expectedPublicKey: Ed25519PublicKey?, readBytes: Int, gapBytes: Int) throws(TraceError) {
        let reader = try TraceReader(input: input, expectedPublicKey: expectedPublicKey, skipsStates: true)
        // Every record's fixed part on several threads; one by one (and the first fault reported)
        // when that does not check out.
        var (leaves, offsets) = reader.skimRecordsInParallel(readBytes: readBytes, gapBytes: gapBytes) ?? ([], [])
        while true {
            let stateOffset = input.offset + stepRecordFixedBytes
            guard let record = try reader.next() else { break }
            leaves.append(record.leaf)
            offsets.append(stateOffset)
        }
        header = reader.header
        signed = reader.signed!
        self.leaves = leaves
        self.input = input
        stateOffsets = offsets
        treeBuilder = reader.treeBuilder
    }

    /// Makes the two checks indexing leaves out — every stored state hashed against its leaf's
    /// step digest, and the token at the end of each sample state against the output token — on
    /// several threads, and returns what `TraceReader.readAll()` returns (the states not kept).
    /// So it verifies everything a full sequential read does, at a fraction of its time (the
    /// states' hashing, 35 MB for 128 tokens on SmolLM2-135M, is split over the cores).
    /// - Throws: `.stepDigestMismatch` for the lowest record whose state does not hash to its
    ///   step digest; `.commitmentMismatch` when a sample state's token is not the output token;
    ///   `.io` when the file can no longer be read. (A full read reports faults in file order; here
    ///   every leaf, chain value and the signed root were checked first, when indexing.)
    public func verifyAll() throws(TraceError) -> TraceContents {
        let schedule = header.schedule, n = leaves.count
        if header.storesStates {
            let tokens = signed.commitment.outputTokens, firstSample = schedule.promptCount - 1
            // Per record: nil when it checks out, else the error it gives.
            let faults = UnsafeMutableBufferPointer<TraceError?>.allocate(capacity: n)
            faults.initialize(repeating: nil)
            defer { faults.deinitialize(); faults.deallocate() }
            forEachRowRangeConcurrently(n) { range in
                let hasher = SHA256Hasher()
                // Up to `lanes` states of one kind, read one after another and hashed together. The
                // buffer grows to the largest group met: states the file holds (the header's sizes
                // alone could ask for any amount).
                let lanes = SHA256Lanes.lanes
                var buffer = UnsafeMutableRawBufferPointer(start: nil, count: 0)
                defer { buffer.deallocate() }
                var digests = [Digest](repeating: Digest(bytes: [UInt8](repeating: 0, count: Digest.byteCount)), count: lanes)
                // Records waiting, by state length: [0] embedding and layer steps, [1] sample steps.
                var waiting: [[Int]] = [[], []]
                var failed = false
                func check(_ group: Int) {
                    let records = waiting[group]
                    waiting[group].removeAll(keepingCapacity: true)
                    guard !records.isEmpty, !failed else { return }
                    let steps = records.map(schedule.step(at:)), count = header.stateByteCount(steps[0].kind)
                    if buffer.count < records.count * count {
                        buffer.deallocate()
                        buffer = .allocate(byteCount: records.count * count, alignment: 64)
                    }
                    for (m, i) in records.enumerated()
                    where !input.read(at: stateOffsets[i], into: UnsafeMutableRawBufferPointer(rebasing: buffer[m * count ..< (m + 1) * count])) {
                        faults[i] = .io("cannot read the state of record \(i)")
                        failed = true
                        return
                    }
                    digests.withUnsafeMutableBufferPointer { out in
                        StepDigest.stored(steps, states: UnsafeRawBufferPointer(rebasing: buffer[..<(records.count * count)]), hasher: hasher,
                                          into: UnsafeMutableBufferPointer(rebasing: out[..<records.count]))
                    }
                    for (m, i) in records.enumerated() {
                        if digests[m] != leaves[i].stepDigest {
                            faults[i] = .stepDigestMismatch(index: i)
                        } else if steps[m].kind == .sample {
                            let token = TraceHeader.sampledToken(state: UnsafeRawBufferPointer(rebasing: buffer[m * count ..< (m + 1) * count]))
                            let j = Int(steps[m].position) - firstSample
                            if j >= tokens.count || token != UInt32(bitPattern: tokens[j]) { faults[i] = .sampledTokensDiffer }
                        }
                    }
                }
                for i in range {
                    let group = schedule.step(at: i).kind == .sample ? 1 : 0
                    waiting[group].append(i)
                    if waiting[group].count == lanes { check(group) }
                }
                check(0)
                check(1)
            }
            if let fault = faults.lazy.compactMap({ $0 }).first { throw fault }
        }
        return TraceContents(header: header, signed: signed, leaves: leaves, steps: (0 ..< n).map(schedule.step(at:)), states: nil, tree: treeBuilder.tree())
    }

    /// The state bytes stored in record `index` (`4·dim` for embedding and layer steps,
    /// `4·vocab + 4` for sample steps), as the file holds them: not yet checked against the leaf.
    /// - Throws: `TraceError.malformed` when the trace stores no states or `index` is not a record,
    ///   `TraceError.io` when the file can no longer be read (it changed after indexing).
    public func storedState(at index: Int) throws(TraceError) -> [UInt8] {
        guard header.storesStates else { throw .malformed(offset: 0, "the trace stores no states (written without --trace-activations)") }
        guard index >= 0 && index < leaves.count else { throw .malformed(offset: 0, "step \(index) is outside the trace's \(leaves.count) records") }
        return try input.read(at: stateOffsets[index], count: header.stateByteCount(header.schedule.step(at: index).kind), "state of record \(index)")
    }
}
