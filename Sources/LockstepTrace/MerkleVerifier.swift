import LockstepNative

/// Why a Merkle inclusion proof is rejected.
public enum MerkleError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The claimed tree has no leaves, so nothing can be included in it.
    case emptyTree
    /// The leaf index is not below the tree size.
    case indexOutOfRange(index: UInt64, treeSize: UInt64)
    /// The proof has fewer elements than a proof for this index and tree size must have.
    case truncatedProof(expected: Int, actual: Int)
    /// The proof has more elements than a proof for this index and tree size must have.
    case extraProofElements(expected: Int, actual: Int)
    /// A proof element is not a 32-byte digest.
    case malformedProofElement(position: Int, byteCount: Int)
    /// The leaf does not belong at this index (its own index field disagrees with the proof's).
    case wrongLeaf(leafIndex: UInt64, proofIndex: UInt64)
    /// The root recomputed from the leaf and the proof is not the expected root. A wrong leaf,
    /// a wrong index, a wrong sibling or a wrong root all end here: a proof cannot tell them apart.
    case wrongRoot(computed: Digest, expected: Digest)

    public var description: String {
        switch self {
        case .emptyTree: return "the tree is empty"
        case let .indexOutOfRange(index, size): return "leaf index \(index) is out of range for a tree of \(size) leaves"
        case let .truncatedProof(expected, actual): return "truncated proof: \(actual) elements, expected \(expected)"
        case let .extraProofElements(expected, actual): return "proof has extra elements: \(actual), expected \(expected)"
        case let .malformedProofElement(position, count): return "proof element \(position) is \(count) bytes, not 32"
        case let .wrongLeaf(leafIndex, proofIndex): return "the leaf is leaf \(leafIndex), but the proof is for leaf \(proofIndex)"
        case let .wrongRoot(computed, expected): return "the proof leads to root \(computed.hex), expected \(expected.hex)"
        }
    }
}

/// Checks Merkle inclusion proofs (RFC 9162 §2.1.3.2). Kept apart from proof construction
/// (`MerkleTree`): a verifier needs only the leaf, the proof and a trusted root.
public enum MerkleVerifier {
    /// The number of elements in every inclusion proof for leaf `index` of a tree of `treeSize`
    /// leaves (`index < treeSize`): the levels below the point where the leaf's path and the
    /// last leaf's path meet, plus one per perfect subtree on the right border above it.
    public static func proofLength(index: UInt64, treeSize: UInt64) -> Int {
        precondition(index < treeSize, "proofLength: index \(index) ≥ tree size \(treeSize)")
        let inner = 64 - (index ^ (treeSize - 1)).leadingZeroBitCount
        let border = (index >> UInt64(inner)).nonzeroBitCount
        return inner + border
    }

    /// The root that `proof` leads to from `leafHash`.
    /// - Throws: `.emptyTree`, `.indexOutOfRange`, `.truncatedProof`, `.extraProofElements`.
    public static func rootFromInclusionProof(leafHash: Digest, proof: InclusionProof,
                                              hasher: MerkleHasher = .rfc6962) throws(MerkleError) -> Digest {
        guard proof.treeSize > 0 else { throw .emptyTree }
        guard proof.index < proof.treeSize else { throw .indexOutOfRange(index: proof.index, treeSize: proof.treeSize) }
        let expected = proofLength(index: proof.index, treeSize: proof.treeSize)
        if proof.path.count < expected { throw .truncatedProof(expected: expected, actual: proof.path.count) }
        if proof.path.count > expected { throw .extraProofElements(expected: expected, actual: proof.path.count) }
        // RFC 9162 §2.1.3.2: fn walks the leaf's path, sn the last leaf's path.
        var fn = proof.index, sn = proof.treeSize - 1
        var r = leafHash
        for p in proof.path {
            if sn == 0 { throw .extraProofElements(expected: expected, actual: proof.path.count) }  // unreachable after the length check
            if fn & 1 == 1 || fn == sn {
                r = hasher.nodeHash(p, r)
                if fn & 1 == 0 {
                    // fn is on the right border: skip the levels where it has no sibling.
                    while fn & 1 == 0 && fn != 0 { fn >>= 1; sn >>= 1 }
                }
            } else {
                r = hasher.nodeHash(r, p)
            }
            fn >>= 1; sn >>= 1
        }
        if sn != 0 { throw .truncatedProof(expected: expected, actual: proof.path.count) }  // unreachable after the length check
        return r
    }

    /// Checks that `leafHash` is leaf `proof.index` of the tree of `proof.treeSize` leaves with root `root`.
    public static func verifyInclusion(leafHash: Digest, proof: InclusionProof, root: Digest,
                                       hasher: MerkleHasher = .rfc6962) throws(MerkleError) {
        let computed = try rootFromInclusionProof(leafHash: leafHash, proof: proof, hasher: hasher)
        guard computed == root else { throw .wrongRoot(computed: computed, expected: root) }
    }

    /// Checks that the raw `leaf` bytes are leaf `proof.index` of the tree with root `root`.
    public static func verifyInclusion(leaf: [UInt8], proof: InclusionProof, root: Digest,
                                       hasher: MerkleHasher = .rfc6962) throws(MerkleError) {
        try verifyInclusion(leafHash: hasher.leafHash(leaf), proof: proof, root: root, hasher: hasher)
    }
}
