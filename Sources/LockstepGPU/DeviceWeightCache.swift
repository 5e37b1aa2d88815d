import LockstepCore

/// Device copies of weight matrices, uploaded once per matrix.
///
/// An entry is keyed by the address of the matrix's bytes and holds the matrix's `owner`, so
/// the memory cannot be freed and reused by another matrix while the entry exists. Matrices
/// without an owner (borrowed, short-lived bytes) are never cached.
struct DeviceWeightCache<Buffer> {
    private var entries: [UnsafeRawPointer: (owner: AnyObject, buffer: Buffer)] = [:]

    /// The cached buffer for `w`, or the result of `upload` (cached when `w` has an owner).
    mutating func buffer(for w: WeightMatrix, upload: () throws -> Buffer) rethrows -> Buffer {
        let key = w.bytes.baseAddress!
        if let owner = w.owner, let hit = entries[key], hit.owner === owner { return hit.buffer }
        let buffer = try upload()
        if let owner = w.owner { entries[key] = (owner, buffer) }
        return buffer
    }
}
