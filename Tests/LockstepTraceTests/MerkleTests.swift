import XCTest
import LockstepTestSupport
import Lockstep
@testable import LockstepTrace

final class MerkleTests: XCTestCase {
    /// Leaves of varied lengths (including empty).
    private func leaves(_ n: Int) -> [[UInt8]] {
        var rng = SplitMix64(seed: 42)
        return (0 ..< n).map { i in (0 ..< (i % 5) * 7).map { _ in UInt8.random(in: 0 ... 255, using: &rng) } }
    }

    func testRFC6962KnownRoots() {
        // The certificate-transparency test leaves and roots (RFC 6962 reference tests).
        let leaves = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"].map(hex)
        let roots = [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
            "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
            "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
            "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
        ]
        XCTAssertEqual(MerkleTree(leaves: []).root.hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(MerkleTreeBuilder().root.hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        var builder = MerkleTreeBuilder()
        for n in 1 ... 8 {
            builder.append(leaf: leaves[n - 1])
            XCTAssertEqual(MerkleTree(leaves: Array(leaves[..<n])).root.hex, roots[n - 1], "size \(n)")
            XCTAssertEqual(builder.root.hex, roots[n - 1], "streaming, size \(n)")
        }
    }

    func testTreeMatchesReferenceForEverySizeAndIndex() throws {
        let all = leaves(70)
        var builder = MerkleTreeBuilder()
        for n in 0 ... 70 {
            if n > 0 { builder.append(leaf: all[n - 1]) }
            let tree = MerkleTree(leaves: Array(all[..<n]))
            let expectedRoot = ReferenceMerkle.root(all[..<n])
            XCTAssertEqual(tree.root, expectedRoot, "size \(n)")
            XCTAssertEqual(builder.root, expectedRoot, "streaming, size \(n)")
            XCTAssertEqual(builder.tree().root, expectedRoot)
            XCTAssertEqual(tree.size, UInt64(n))
            for i in 0 ..< n {
                let proof = try tree.inclusionProof(index: UInt64(i))
                XCTAssertEqual(proof.path, ReferenceMerkle.path(i, all[..<n]), "size \(n) index \(i)")
                XCTAssertEqual(proof.path.count, MerkleVerifier.proofLength(index: UInt64(i), treeSize: UInt64(n)))
                XCTAssertNoThrow(try MerkleVerifier.verifyInclusion(leaf: all[i], proof: proof, root: expectedRoot))
            }
        }
    }

    /// Appending leaf hashes in bulk gives the tree of appending them one by one, from any size
    /// before (aligned or not), across the bulk subtree height and past it.
    func testBulkAppendIsOneByOneAppend() {
        let hashes = leaves(1100).map { MerkleHasher.rfc6962.leafHash($0) }
        for before in [0, 1, 3, 8, 255, 256, 300] {
            for count in [0, 1, 2, 5, 255, 256, 257, 511, 512, 800] where before + count <= hashes.count {
                var oneByOne = MerkleTreeBuilder(), bulk = MerkleTreeBuilder()
                for h in hashes[..<before] { oneByOne.append(leafHash: h); bulk.append(leafHash: h) }
                for h in hashes[before ..< before + count] { oneByOne.append(leafHash: h) }
                bulk.append(leafHashes: Array(hashes[before ..< before + count]))
                XCTAssertEqual(bulk.root, oneByOne.root, "\(before) + \(count)")
                XCTAssertEqual(bulk.leafHashes, oneByOne.leafHashes)
                // and it goes on growing the same way
                bulk.append(leafHash: hashes[hashes.count - 1]); oneByOne.append(leafHash: hashes[hashes.count - 1])
                XCTAssertEqual(bulk.root, oneByOne.root, "\(before) + \(count) + 1")
            }
        }
        XCTAssertGreaterThan(1 << MerkleTreeBuilder.bulkSubtreeHeight, 1)
        XCTAssertLessThan(1 << MerkleTreeBuilder.bulkSubtreeHeight, 800, "the test spans several bulk subtrees")
    }

    func testVerifierErrorsAreTyped() throws {
        let all = leaves(11)
        let tree = MerkleTree(leaves: all)
        let proof = try tree.inclusionProof(index: 6)
        func error(_ body: () throws(MerkleError) -> Void) -> MerkleError? {
            do { try body(); return nil } catch { return error }
        }
        XCTAssertEqual(error { () throws(MerkleError) in _ = try tree.inclusionProof(index: 11) }, .indexOutOfRange(index: 11, treeSize: 11))
        XCTAssertEqual(error { () throws(MerkleError) in _ = try MerkleTree(leaves: []).inclusionProof(index: 0) }, .emptyTree)
        var p = proof
        p.path.removeLast()
        XCTAssertEqual(error { () throws(MerkleError) in try MerkleVerifier.verifyInclusion(leaf: all[6], proof: p, root: tree.root) },
                       .truncatedProof(expected: proof.path.count, actual: proof.path.count - 1))
        p = proof
        p.path.append(tree.root)
        XCTAssertEqual(error { () throws(MerkleError) in try MerkleVerifier.verifyInclusion(leaf: all[6], proof: p, root: tree.root) },
                       .extraProofElements(expected: proof.path.count, actual: proof.path.count + 1))
        p = proof
        p.treeSize = 0
        XCTAssertEqual(error { () throws(MerkleError) in try MerkleVerifier.verifyInclusion(leaf: all[6], proof: p, root: tree.root) }, .emptyTree)
        p = proof
        p.index = 11
        XCTAssertEqual(error { () throws(MerkleError) in try MerkleVerifier.verifyInclusion(leaf: all[6], proof: p, root: tree.root) },
                       .indexOutOfRange(index: 11, treeSize: 11))
        guard case .wrongRoot? = error({ () throws(MerkleError) in try MerkleVerifier.verifyInclusion(leaf: all[5], proof: proof, root: tree.root) }) else {
            return XCTFail("a wrong leaf must give wrongRoot")
        }
        XCTAssertThrowsError(try InclusionProof(index: 0, treeSize: 2, pathBytes: [[1, 2, 3]])) {
            XCTAssertEqual($0 as? MerkleError, .malformedProofElement(position: 0, byteCount: 3))
        }
        // Trace leaves carry their index: a leaf presented under another index is a wrong leaf.
        let traceLeaves = (0 ..< 5).map { TraceLeaf(index: UInt64($0), stepDigest: sha("o\($0)"), chain: sha("c\($0)")) }
        let traceTree = MerkleTree(leaves: traceLeaves.map(\.bytes))
        let p2 = try traceTree.inclusionProof(index: 2)
        XCTAssertNoThrow(try traceLeaves[2].verifyInclusion(proof: p2, root: traceTree.root))
        XCTAssertEqual(error { () throws(MerkleError) in try traceLeaves[3].verifyInclusion(proof: p2, root: traceTree.root) },
                       .wrongLeaf(leafIndex: 3, proofIndex: 2))
    }

    func testDomainSeparationDefeatsInteriorNodesAsLeaves() throws {
        // Without the 0x00/0x01 prefixes, the bytes h0 ‖ h1 "hashed as a leaf" would equal the
        // interior node above leaves 0 and 1, and a 2-leaf proof would verify against a 4-leaf root.
        let all = leaves(4)
        let tree = MerkleTree(leaves: all)
        let h = all.map { MerkleHasher.rfc6962.leafHash($0) }
        let forged = h[0].bytes + h[1].bytes
        let sibling = MerkleHasher.rfc6962.nodeHash(h[2], h[3])
        XCTAssertThrowsError(try MerkleVerifier.verifyInclusion(leaf: forged, proof: InclusionProof(index: 0, treeSize: 2, path: [sibling]), root: tree.root))
        // The same forgery with the interior node itself as the "leaf hash" would pass: the check is the prefix.
        XCTAssertNoThrow(try MerkleVerifier.verifyInclusion(leafHash: MerkleHasher.rfc6962.nodeHash(h[0], h[1]),
                                                            proof: InclusionProof(index: 0, treeSize: 2, path: [sibling]), root: tree.root))
    }

    func testEverySingleBitChangeOfLeafProofRootOrIndexIsRejected() throws {
        let all = leaves(13)
        for n in [1, 2, 3, 5, 8, 13] {
            let tree = MerkleTree(leaves: Array(all[..<n]))
            for i in 0 ..< n {
                let proof = try tree.inclusionProof(index: UInt64(i))
                let leaf = all[i]
                for bit in 0 ..< leaf.count * 8 {
                    XCTAssertThrowsError(try MerkleVerifier.verifyInclusion(leaf: flipped(leaf, bit: bit), proof: proof, root: tree.root))
                }
                for k in proof.path.indices {
                    for bit in 0 ..< 256 {
                        var p = proof
                        p.path[k] = flipped(p.path[k], bit: bit)
                        XCTAssertThrowsError(try MerkleVerifier.verifyInclusion(leaf: leaf, proof: p, root: tree.root))
                    }
                }
                for bit in 0 ..< 256 {
                    XCTAssertThrowsError(try MerkleVerifier.verifyInclusion(leaf: leaf, proof: proof, root: flipped(tree.root, bit: bit)))
                }
                for bit in 0 ..< 64 {
                    var p = proof
                    p.index ^= 1 << UInt64(bit)
                    XCTAssertThrowsError(try MerkleVerifier.verifyInclusion(leaf: leaf, proof: p, root: tree.root))
                }
            }
        }
    }
}
