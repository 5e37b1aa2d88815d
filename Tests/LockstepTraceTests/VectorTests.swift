import Foundation
import XCTest
import Lockstep
@testable import LockstepTrace

/// Checks every vector under `Vectors/merkle` and `Vectors/commitments`, and that the files are
/// exactly what `VectorGenerator` produces. `LOCKSTEP_REGENERATE_VECTORS=1` rewrites them first.
final class VectorTests: XCTestCase {
    private func tests(_ file: [String: Any]) -> [[String: Any]] {
        ((file["testGroups"] as? [[String: Any]]) ?? []).flatMap { ($0["tests"] as? [[String: Any]]) ?? [] }
    }

    func testFilesMatchTheGenerator() throws {
        let regenerate = ProcessInfo.processInfo.environment["LOCKSTEP_REGENERATE_VECTORS"] == "1"
        for (path, text) in try VectorGenerator.all() {
            let url = vectorsDirectory().appendingPathComponent(path)
            if regenerate {
                try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                try text.write(to: url, atomically: true, encoding: .utf8)
            }
            let stored = try String(contentsOf: url, encoding: .utf8)
            XCTAssertTrue(stored == text, "\(path) differs from the generator's output; run LOCKSTEP_REGENERATE_VECTORS=1 swift test --filter VectorTests if the change is intended")
        }
    }

    func testMerkleRootVectors() throws {
        let file = try loadVectors("merkle/roots.json")
        let all = tests(file)
        XCTAssertEqual(all.count, file["numberOfTests"] as? Int)
        for t in all {
            let id = t["tcId"] as! Int
            let leaves = (t["leaves"] as! [String]).map(hex)
            let root = try XCTUnwrap(Digest(hex: t["root"] as! String))
            XCTAssertEqual(ReferenceMerkle.root(leaves[...]) == root, t["result"] as? String == "valid", "tcId \(id)")
            var builder = MerkleTreeBuilder()
            for l in leaves { builder.append(leaf: l) }
            XCTAssertEqual(builder.root == root, t["result"] as? String == "valid", "tcId \(id)")
        }
    }

    func testMerkleInclusionVectors() throws {
        let file = try loadVectors("merkle/inclusion.json")
        let all = tests(file)
        XCTAssertEqual(all.count, file["numberOfTests"] as? Int)
        var seenFlags = Set<String>()
        var validCount = 0
        for t in all {
            let id = t["tcId"] as! Int
            let leaf = hex(t["leaf"] as! String)
            let root = try XCTUnwrap(Digest(hex: t["root"] as! String))
            let proofBytes = (t["proof"] as! [String]).map(hex)
            let proof = try InclusionProof(index: UInt64(t["index"] as! Int), treeSize: UInt64(t["treeSize"] as! Int), pathBytes: proofBytes)
            let result = t["result"] as! String
            seenFlags.formUnion(t["flags"] as! [String])
            let accepted = (try? MerkleVerifier.verifyInclusion(leaf: leaf, proof: proof, root: root)) != nil
            switch result {
            case "valid":
                validCount += 1
                XCTAssertTrue(accepted, "tcId \(id) must verify")
                // The independent recursive implementation gives the same proof.
                XCTAssertEqual(proof.path, ReferenceMerkle.path(Int(proof.index), VectorGenerator.merkleLeaves[..<Int(proof.treeSize)]), "tcId \(id)")
                // Every single-bit change of the leaf, a proof element, the root or the index is rejected.
                for bit in 0 ..< leaf.count * 8 {
                    XCTAssertThrowsError(try MerkleVerifier.verifyInclusion(leaf: flipped(leaf, bit: bit), proof: proof, root: root), "tcId \(id) leaf bit \(bit)")
                }
                for k in proof.path.indices {
                    for bit in 0 ..< 256 {
                        var p = proof
                        p.path[k] = flipped(p.path[k], bit: bit)
                        XCTAssertThrowsError(try MerkleVerifier.verifyInclusion(leaf: leaf, proof: p, root: root), "tcId \(id) proof \(k) bit \(bit)")
                    }
                }
                for bit in 0 ..< 256 {
                    XCTAssertThrowsError(try MerkleVerifier.verifyInclusion(leaf: leaf, proof: proof, root: flipped(root, bit: bit)), "tcId \(id) root bit \(bit)")
                }
                for bit in 0 ..< 64 {
                    var p = proof
                    p.index ^= 1 << UInt64(bit)
                    XCTAssertThrowsError(try MerkleVerifier.verifyInclusion(leaf: leaf, proof: p, root: root), "tcId \(id) index bit \(bit)")
                }
                // Trace leaves (72 bytes, 8 … 16): through the commitment, whose leaf count fixes the tree size.
                if leaf.count == TraceLeaf.byteCount {
                    let traceLeaf = try TraceLeaf(bytes: leaf)
                    XCTAssertEqual(traceLeaf.index, proof.index)
                    let c = try Commitment(request: TraceRequest(modelDigest: sha("m"), shape: ModelShape(dim: 1, vocabularySize: 1, layers: 1), promptTokens: [1], temperatureBits: 0, seed: 0, maxTokens: 1),
                                           outputTokens: [], leafCount: proof.treeSize, root: root, finalChain: root)
                    XCTAssertNoThrow(try c.verifyInclusion(of: traceLeaf, path: proof.path))
                }
            case "invalid":
                XCTAssertFalse(accepted, "tcId \(id) (\(t["comment"] as! String)) must be rejected")
            case "acceptable":
                XCTAssertTrue(accepted, "tcId \(id): Lockstep's verifier accepts TreeSizeNotBound cases (the size comes from the commitment)")
            default:
                XCTFail("tcId \(id): unknown result \(result)")
            }
        }
        XCTAssertEqual(validCount, (1 ... 17).reduce(0, +))
        for flag in ["wrong-leaf", "wrong-index", "truncated-proof", "extra-proof-element", "flipped-bit-in-proof", "wrong-root",
                     "wrong-tree-size", "index-out-of-range", "interior-node-as-leaf", "swapped-proof-elements", "empty-proof"] {
            XCTAssertTrue(seenFlags.contains(flag), "no vector with flag \(flag)")
        }
    }

    func testSignedCommitmentVectors() throws {
        let file = try loadVectors("commitments/signed.json")
        let all = tests(file)
        XCTAssertEqual(all.count, file["numberOfTests"] as? Int)
        var valid = 0
        for t in all {
            let id = t["tcId"] as! Int
            let result = t["result"] as! String
            let message = hex(t["message"] as! String)
            let signature = hex(t["signature"] as! String)
            let keyBytes = hex(t["publicKey"] as! String)
            let commitment = try Commitment(jsonObject: t["commitment"] as! [String: Any])
            XCTAssertEqual(commitment.encoding, message, "tcId \(id): encoding")
            XCTAssertEqual(try Commitment(encoding: message), commitment, "tcId \(id): decoding")
            let key = try Ed25519PublicKey(rawRepresentation: keyBytes)
            let accepted = (try? commitment.verifySignature(signature, publicKey: key)) != nil
            if result == "valid" {
                valid += 1
                XCTAssertTrue(accepted, "tcId \(id) must verify")
                let signed = SignedCommitment(commitment: commitment, signature: signature, publicKey: key)
                XCTAssertNoThrow(try signed.verifySignature(publicKey: key))
                XCTAssertEqual(try SignedCommitment(json: signed.json), signed, "tcId \(id): JSON round trip")
                // Every single-bit change of the encoded commitment (every field) is rejected, by the
                // decoder or by the signature.
                for bit in 0 ..< message.count * 8 {
                    let m = flipped(message, bit: bit)
                    if let c = try? Commitment(encoding: m) {
                        XCTAssertThrowsError(try c.verifySignature(signature, publicKey: key), "tcId \(id) message bit \(bit)")
                    }
                    XCTAssertFalse(key.isValidSignature(signature, for: m))
                }
                for bit in 0 ..< 512 {
                    XCTAssertThrowsError(try commitment.verifySignature(flipped(signature, bit: bit), publicKey: key), "tcId \(id) signature bit \(bit)")
                }
                for bit in 0 ..< 256 {
                    guard let other = try? Ed25519PublicKey(rawRepresentation: flipped(keyBytes, bit: bit)) else { continue }
                    XCTAssertThrowsError(try commitment.verifySignature(signature, publicKey: other), "tcId \(id) public key bit \(bit)")
                    XCTAssertThrowsError(try signed.verifySignature(publicKey: other))
                }
            } else {
                XCTAssertEqual(result, "invalid")
                XCTAssertFalse(accepted, "tcId \(id) (\(t["comment"] as! String)) must be rejected")
            }
        }
        XCTAssertEqual(valid, 3)
    }

    func testTraceChainVector() throws {
        let file = try loadVectors("commitments/trace_chain.json")
        let t = try XCTUnwrap(tests(file).first)
        let request = try Commitment(jsonObject: t["commitment"] as! [String: Any]).request
        XCTAssertEqual(Hex.encode(request.encoding), t["request"] as? String)
        XCTAssertEqual(request.digest.hex, t["requestDigest"] as? String)
        var chain = try XCTUnwrap(Digest(hex: t["chainStart"] as! String))
        XCTAssertEqual(request.chainStart, chain)
        XCTAssertEqual(request.shape, try ModelShape(dim: t["dim"] as! Int, vocabularySize: t["vocabularySize"] as! Int, layers: t["layers"] as! Int))
        let schedule = StepSchedule(promptCount: request.promptTokens.count, layers: request.shape.layers)
        var builder = MerkleTreeBuilder()
        let hasher = SHA256Hasher()
        for s in t["steps"] as! [[String: Any]] {
            let i = s["index"] as! Int
            let step = schedule.step(at: i)
            XCTAssertEqual(Hex.encode(step.header), s["header"] as? String)
            let o = hex(s["state"] as! String).withUnsafeBytes { StepDigest.stored(step, stateBytes: $0, hasher: hasher) }
            XCTAssertEqual(o.hex, s["stepDigest"] as? String, "step \(i)")
            // Independently: SHA-256(tag ‖ 0x00 ‖ header ‖ state).
            XCTAssertEqual(SHA256Hasher.hash(Array("lockstep.step.v1".utf8) + [0] + step.header + hex(s["state"] as! String)), o)
            chain = SHA256Hasher.hash(chain.bytes + o.bytes)
            XCTAssertEqual(chain.hex, s["chain"] as? String, "step \(i)")
            let leaf = TraceLeaf(index: UInt64(i), stepDigest: o, chain: chain)
            XCTAssertEqual(Hex.encode(leaf.bytes), s["leaf"] as? String)
            builder.append(leaf: leaf.bytes)
        }
        XCTAssertEqual(builder.root.hex, t["root"] as? String)
        XCTAssertEqual(chain.hex, t["finalChain"] as? String)
        let signed = try SignedCommitment(jsonObject: t["commitment"] as! [String: Any])
        XCTAssertNoThrow(try signed.verifySignature())
        XCTAssertEqual(Hex.encode(signed.commitment.encoding), t["commitmentEncoding"] as? String)
        let contents = try TraceReader.read(bytes: hex(t["traceFile"] as! String), keepStates: true)
        XCTAssertEqual(contents.signed, signed)
        XCTAssertEqual(contents.tree.root.hex, t["root"] as? String)
    }
}
