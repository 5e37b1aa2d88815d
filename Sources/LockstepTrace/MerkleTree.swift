import LockstepNative

/// Builds a Merkle tree one leaf at a time (RFC 9162 §2.1.1 shape for any number of leaves).
///
/// Streaming: `root` is available after every append from a compact range of at most
/// ⌈log₂ n⌉ + 1 subtree roots (the perfect subtrees of the binary decomposition of `size`). The
/// leaf hashes are also kept (32 bytes each) so that `tree()` can produce inclusion proofs.
public struct MerkleTreeBuilder: Sendable {
    /// The hash functions.
    public let hasher: MerkleHasher
    /// Every leaf hash, in order.
    public private(set) var leafHashes: [Digest] = []
    /// Roots of the perfect subtrees covering the leaves so far, left to right, with their heights
    /// (strictly decreasing).
    private var range: [(height: Int, root: Digest)] = []

    public init(hasher: MerkleHasher = .rfc6962) { self.hasher = hasher }

    /// Number of leaves appended.
    public var size: UInt64 { UInt64(leafHashes.count) }

    /// Appends a leaf (hashing it with the leaf prefix).
    public mutating func append(leaf: [UInt8]) { append(leafHash: hasher.leafHash(leaf)) }

    /// Appends an already hashed leaf.
    public mutating func append(leafHash: Digest) { append(leafHash: leafHash, using: nil) }

    /// Appends an already hashed leaf, hashing the nodes it completes with `sha` (reset first)
    /// when given: a reader appending many leaves reuses one hasher.
    public mutating func append(leafHash: Digest, using sha: SHA256Hasher?) {
        leafHashes.append(leafHash)
        push(subtree: leafHash, height: 0, using: sha)
    }

    /// Appends many already hashed leaves: the same tree as appending them one by one, with the
    /// perfect subtrees of up to `1 << Self.bulkSubtreeHeight` leaves they complete hashed on
    /// several threads (`hashRowsInParallel`), a level at a time (`MerkleHasher.parentHashes`).
    public mutating func append(leafHashes hashes: [Digest]) {
        // The appended leaves as aligned perfect subtrees, left to right: each as large as the
        // size before it allows (a multiple of its width), capped at the bulk height.
        var subtrees: [(offset: Int, height: Int)] = []
        var size = leafHashes.count, offset = 0
        while offset < hashes.count {
            var height = 0
            while height < Self.bulkSubtreeHeight && size % (2 << height) == 0 && offset + (2 << height) <= hashes.count { height += 1 }
            subtrees.append((offset, height))
            offset += 1 << height; size += 1 << height
        }
        var roots = [Digest?](repeating: nil, count: subtrees.count)
        let hasher = self.hasher
        roots.withUnsafeMutableBufferPointer { roots in
            hashRowsInParallel(subtrees.count) { range, sha in
                for k in range {
                    var level = Array(hashes[subtrees[k].offset ..< subtrees[k].offset + (1 << subtrees[k].height)])
                    while level.count > 1 {
                        level = level.withUnsafeBufferPointer { below in
                            [Digest](unsafeUninitializedCapacity: below.count / 2) { parents, n in
                                hasher.parentHashes(below, hasher: sha, into: parents)
                                n = below.count / 2
                            }
                        }
                    }
                    roots[k] = level[0]
                }
            }
        }
        leafHashes += hashes
        let sha = SHA256Hasher()
        for (k, subtree) in subtrees.enumerated() { push(subtree: roots[k]!, height: subtree.height, using: sha) }
    }

    /// Height of the largest perfect subtree `append(leafHashes:)` hashes as one task (256
    /// leaves): small enough that a few thousand leaves make tasks for every thread.
    static let bulkSubtreeHeight = 8

    /// Adds the root of a perfect subtree of `1 << height` leaves that starts where the tree ends
    /// (its size is a multiple of the subtree's width), merging equal-height subtrees like
    /// carrying in a binary counter.
    private mutating func push(subtree root: Digest, height: Int, using sha: SHA256Hasher?) {
        var node = (height: height, root: root)
        while let last = range.last, last.height == node.height {
            range.removeLast()
            let parent = sha.map { hasher.nodeHash(last.root, node.root, using: $0) } ?? hasher.nodeHash(last.root, node.root)
            node = (node.height + 1, parent)
        }
        range.append(node)
    }

    /// The root of the tree over every leaf so far (`SHA-256("")` when empty): the compact range
    /// folded right to left, which is exactly RFC 9162's MTH.
    public var root: Digest {
        guard var r = range.last?.root else { return hasher.emptyRoot }
        for node in range.dropLast().reversed() { r = hasher.nodeHash(node.root, r) }
        return r
    }

    /// The complete tree, for inclusion proofs.
    public func tree() -> MerkleTree { MerkleTree(leafHashes: leafHashes, hasher: hasher) }
}

/// A complete Merkle tree over a list of leaf hashes: its root and inclusion proofs
/// (proof construction; checking lives in `MerkleVerifier`).
///
/// Stored as levels: level 0 holds the leaf hashes; level k+1 pairs up level k's nodes left to
/// right and promotes an unpaired last node unchanged. This is the RFC 9162 tree: its split at
/// the largest power of two below n is the same left-balanced shape.
public struct MerkleTree: Sendable {
    /// The hash functions.
    public let hasher: MerkleHasher
    /// `levels[0]` = leaf hashes, the last level = [root] (no levels for an empty tree).
    private let levels: [[Digest]]

    /// Builds the tree over `leafHashes`.
    public init(leafHashes: [Digest], hasher: MerkleHasher = .rfc6962) {
        self.hasher = hasher
        var levels: [[Digest]] = []
        if !leafHashes.isEmpty {
            var level = leafHashes
            levels.append(level)
            while level.count > 1 {
                var next: [Digest] = []
                next.reserveCapacity((level.count + 1) / 2)
                var i = 0
                while i + 1 < level.count {
                    next.append(hasher.nodeHash(level[i], level[i + 1]))
                    i += 2
                }
                if i < level.count { next.append(level[i]) }
                levels.append(next)
                level = next
            }
        }
        self.levels = levels
    }

    /// Builds the tree over raw leaves.
    public init(leaves: [[UInt8]], hasher: MerkleHasher = .rfc6962) {
        self.init(leafHashes: leaves.map { hasher.leafHash($0) }, hasher: hasher)
    }

    /// Number of leaves.
    public var size: UInt64 { UInt64(levels.first?.count ?? 0) }

    /// The root (`SHA-256("")` for the empty tree).
    public var root: Digest { levels.last?.first ?? hasher.emptyRoot }

    /// The hash of leaf `index`.
    public func leafHash(at index: UInt64) -> Digest? {
        guard index < size else { return nil }
        return levels[0][Int(index)]
    }

    /// The inclusion proof (RFC 9162 §2.1.3.1 audit path, bottom-up) of leaf `index`.
    /// - Throws: `MerkleError.indexOutOfRange` (or `.emptyTree`) for an index not in the tree.
    public func inclusionProof(index: UInt64) throws(MerkleError) -> InclusionProof {
        guard size > 0 else { throw .emptyTree }
        guard index < size else { throw .indexOutOfRange(index: index, treeSize: size) }
        var path: [Digest] = []
        var i = Int(index)
        for level in levels.dropLast() {
            let sibling = i ^ 1
            if sibling < level.count { path.append(level[sibling]) }
            i >>= 1
        }
        return InclusionProof(index: index, treeSize: size, path: path)
    }
}

/// An inclusion proof: leaf `index` of a tree of `treeSize` leaves, with the sibling hashes
/// from the leaf up to the root (RFC 9162 order).
public struct InclusionProof: Sendable, Equatable {
    public var index: UInt64
    public var treeSize: UInt64
    public var path: [Digest]

    public init(index: UInt64, treeSize: UInt64, path: [Digest]) {
        self.index = index; self.treeSize = treeSize; self.path = path
    }

    /// A proof from raw path elements (for example parsed from hex).
    /// - Throws: `MerkleError.malformedProofElement` for an element that is not 32 bytes.
    public init(index: UInt64, treeSize: UInt64, pathBytes: [[UInt8]]) throws(MerkleError) {
        var path: [Digest] = []
        for (i, e) in pathBytes.enumerated() {
            guard e.count == Digest.byteCount else { throw .malformedProofElement(position: i, byteCount: e.count) }
            path.append(Digest(bytes: e))
        }
        self.init(index: index, treeSize: treeSize, path: path)
    }
}
