import LockstepCore

/// Device copies of weight matrices, uploaded once per matrix.
///
/// An entry is keyed by the address and length of the matrix's bytes (views of one matrix's
/// rows, `WeightMatrix.rows(_:)`, can start at the same address) and holds the matrix's `owner`,
/// so the memory cannot be freed and reused by another matrix while the entry exists. Matrices
/// without an owner (borrowed, short-lived bytes) are never cached.
struct DeviceWeightCache<Buffer> {
    private struct Key: Hashable {
        let address: UnsafeRawPointer
        let count: Int
    }
    private var entries: [Key: (owner: AnyObject, buffer: Buffer)] = [:]

    /// The cached buffer for `w`, or the result of `upload` (cached when `w` has an owner).
    mutating func buffer(for w: WeightMatrix, upload: () throws -> Buffer) rethrows -> Buffer {
        let key = Key(address: w.bytes.baseAddress!, count: w.bytes.count)
        if let owner = w.owner, let hit = entries[key], hit.owner === owner { return hit.buffer }
        let buffer = try upload()
        if let owner = w.owner { entries[key] = (owner, buffer) }
        return buffer
    }
}
