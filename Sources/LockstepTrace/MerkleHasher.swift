import LockstepNative

/// The hash functions of a Merkle tree with RFC 6962 / RFC 9162 domain separation:
/// a leaf hashes as `SHA-256(0x00 ‖ leaf)`, an interior node as `SHA-256(0x01 ‖ left ‖ right)`,
/// and the empty tree's root is `SHA-256("")`.
///
/// The prefixes make a leaf hash never equal to a node hash (for the same input bytes), which
/// defeats the second-preimage attack where interior nodes are presented as leaves.
public struct MerkleHasher: Sendable {
    /// The RFC 6962 / RFC 9162 SHA-256 hasher.
    public static let rfc6962 = MerkleHasher()

    /// The prefix byte of a leaf hash input.
    public static let leafPrefix: UInt8 = 0x00
    /// The prefix byte of an interior node hash input.
    public static let nodePrefix: UInt8 = 0x01

    public init() {}

    /// The root of the empty tree: `SHA-256("")`.
    public var emptyRoot: Digest { SHA256Hasher.hash([]) }

    /// `SHA-256(0x00 ‖ leaf)`.
    public func leafHash(_ leaf: [UInt8]) -> Digest {
        leaf.withUnsafeBytes { leafHash($0) }
    }

    /// `SHA-256(0x00 ‖ leaf)`.
    public func leafHash(_ leaf: UnsafeRawBufferPointer) -> Digest { leafHash(leaf, using: SHA256Hasher()) }

    /// `SHA-256(0x00 ‖ leaf)` computed with `hasher` (reset first): a reader hashing many leaves
    /// reuses one hasher.
    public func leafHash(_ leaf: UnsafeRawBufferPointer, using hasher: SHA256Hasher) -> Digest {
        hasher.reset()
        hasher.update(littleEndian: MerkleHasher.leafPrefix)
        hasher.update(leaf)
        return hasher.finalize()
    }

    /// `SHA-256(0x01 ‖ left ‖ right)`.
    public func nodeHash(_ left: Digest, _ right: Digest) -> Digest { nodeHash(left, right, using: SHA256Hasher()) }

    /// `parents[k] = nodeHash(level[2k], level[2k + 1])` for every k < level.count / 2, hashed in
    /// lanes (`SHA256Lanes`): one level of a tree from the one below (an odd last node is left out).
    public func parentHashes(_ level: UnsafeBufferPointer<Digest>, hasher: SHA256Hasher, into parents: UnsafeMutableBufferPointer<Digest>) {
        precondition(parents.count == level.count / 2, "MerkleHasher.parentHashes: \(parents.count) outputs for \(level.count) nodes")
        guard let base = level.baseAddress else { return }
        withUnsafeBytes(of: MerkleHasher.nodePrefix) { prefix in
            SHA256Lanes.hash(into: parents, partLengths: [1, Digest.byteCount, Digest.byteCount], hasher: hasher) { k, j in
                j == 0 ? prefix.baseAddress! : UnsafeRawPointer(base + 2 * k + j - 1)
            }
        }
    }

    /// `SHA-256(0x01 ‖ left ‖ right)` computed with `hasher` (reset first).
    public func nodeHash(_ left: Digest, _ right: Digest, using hasher: SHA256Hasher) -> Digest {
        hasher.reset()
        hasher.update(littleEndian: MerkleHasher.nodePrefix)
        hasher.update(left)
        hasher.update(right)
        return hasher.finalize()
    }
}
