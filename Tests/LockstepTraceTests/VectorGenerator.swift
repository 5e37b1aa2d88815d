import Foundation
import Lockstep
@testable import LockstepTrace

/// Generates the files under `Vectors/merkle` and `Vectors/commitments` (Wycheproof-style:
/// test groups of tests with `tcId`, `comment`, `flags`, inputs as hex, `result`).
/// Everything is deterministic (fixed inputs, deterministic Ed25519), so regenerating gives the
/// same bytes; `VectorTests` checks the files against this generator and checks every vector.
enum VectorGenerator {
    /// Relative path → file text.
    static func all() throws -> [(String, String)] {
        [
            ("merkle/roots.json", try text(merkleRoots())),
            ("merkle/inclusion.json", try text(merkleInclusion())),
            ("commitments/signed.json", try text(signedCommitments())),
            ("commitments/trace_chain.json", try text(traceChain())),
        ]
    }

    /// Pretty-printed JSON with sorted keys, except that each test is one compact line
    /// (small, diff-friendly files).
    static func text(_ object: [String: Any]) throws -> String {
        var o = object
        var compactTests: [[String]] = []
        if let groups = o["testGroups"] as? [[String: Any]] {
            o["testGroups"] = try groups.enumerated().map { (g, group) -> [String: Any] in
                var group = group
                let lines = try ((group["tests"] as? [[String: Any]]) ?? []).map { t in
                    String(decoding: try JSONSerialization.data(withJSONObject: t, options: [.sortedKeys, .withoutEscapingSlashes]), as: UTF8.self)
                }
                compactTests.append(lines)
                group["tests"] = ["@@tests \(g)@@"]
                return group
            }
        }
        let data = try JSONSerialization.data(withJSONObject: o, options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes])
        var out: [String] = []
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false) {
            if let r = line.range(of: "\"@@tests "), let end = line.range(of: "@@\"", range: r.upperBound ..< line.endIndex),
               let g = Int(line[r.upperBound ..< end.lowerBound]) {
                let indent = String(line[..<r.lowerBound])
                out.append(compactTests[g].map { indent + $0 }.joined(separator: ",\n"))
            } else {
                out.append(String(line))
            }
        }
        return out.joined(separator: "\n") + "\n"
    }

    // MARK: Merkle

    /// The 8 certificate-transparency test leaves, then 9 trace leaves (index ‖ oᵢ ‖ cᵢ).
    static let merkleLeaves: [[UInt8]] = {
        var leaves = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"].map { Hex.decode($0)! }
        for i in 8 ..< 17 {
            leaves.append(TraceLeaf(index: UInt64(i), stepDigest: sha("lockstep vector step \(i)"), chain: sha("lockstep vector chain \(i)")).bytes)
        }
        return leaves
    }()

    nonisolated(unsafe) static let merkleNotes: [String: Any] = [
        "valid": "A correct inclusion proof (RFC 9162 §2.1.3).",
        "wrong-leaf": "The leaf of another index, or a leaf with one byte more.",
        "flipped-bit-in-leaf": "The leaf with one bit flipped.",
        "wrong-index": "The correct leaf and proof, under a neighbouring index.",
        "index-out-of-range": "The index equals the tree size.",
        "truncated-proof": "The proof without its last element.",
        "empty-proof": "No proof elements for a leaf that needs several.",
        "extra-proof-element": "The proof with one more element.",
        "flipped-bit-in-proof": "One bit of one proof element flipped.",
        "swapped-proof-elements": "The first two proof elements exchanged.",
        "wrong-root": "The root with one bit flipped, or the root of a bigger tree.",
        "wrong-tree-size": "A neighbouring tree size for which the proof has another length or shape.",
        "TreeSizeNotBound": "Result 'acceptable': a neighbouring tree size for which this proof happens to have the same shape, so it leads to the same root. An RFC 9162 root does not commit to the tree size; a verifier must take the size from a signed statement (in Lockstep, the commitment's leaf_count). Lockstep's verifier accepts these.",
        "leaf-hash-as-leaf": "The leaf's hash given as the leaf.",
        "interior-node-as-leaf": "Second-preimage attempt: the concatenated children of an interior node given as a leaf of a smaller tree with the same root. Rejected thanks to the 0x00/0x01 prefixes.",
    ]

    static func merkleRoots() -> [String: Any] {
        var tests: [[String: Any]] = []
        var id = 0
        for n in 0 ... 17 {
            id += 1
            let leaves = Array(merkleLeaves[..<n])
            let root = MerkleTree(leaves: leaves).root
            tests.append(["tcId": id, "comment": "tree of \(n) leaves", "flags": ["valid"], "leaves": leaves.map { Hex.encode($0) },
                          "root": root.hex, "result": "valid"])
            if n > 0 {
                id += 1
                tests.append(["tcId": id, "comment": "tree of \(n) leaves, root with its last bit flipped", "flags": ["wrong-root"],
                              "leaves": leaves.map { Hex.encode($0) }, "root": flipped(root, bit: 255).hex, "result": "invalid"])
            }
        }
        return [
            "algorithm": "MerkleTreeHash (RFC 9162 §2.1.1, SHA-256; leaf 0x00, node 0x01; empty tree SHA-256(\"\"))",
            "schema": "lockstep_merkle_root_v1",
            "header": ["Roots of the trees over the first n leaves, n = 0 … 17. Leaves 0 … 7 are the certificate-transparency reference test leaves (roots for n = 1 … 8 as published there); leaves 8 … 16 are Lockstep trace leaves (u64 index ‖ oᵢ ‖ cᵢ)."],
            "notes": ["valid": merkleNotes["valid"]!, "wrong-root": "The root with its last bit flipped."],
            "numberOfTests": tests.count,
            "testGroups": [["type": "MerkleRoot", "tests": tests]],
        ]
    }

    static func merkleInclusion() throws -> [String: Any] {
        var groups: [[String: Any]] = []
        var id = 0
        var count = 0
        for n in 1 ... 17 {
            let leaves = Array(merkleLeaves[..<n])
            let tree = MerkleTree(leaves: leaves)
            var tests: [[String: Any]] = []
            func add(_ comment: String, _ flag: String, leaf: [UInt8], index: Int, size: Int, proof: [Digest], root: Digest, result: String) {
                id += 1
                tests.append(["tcId": id, "comment": comment, "flags": [flag], "leaf": Hex.encode(leaf), "index": index, "treeSize": size,
                              "proof": proof.map(\.hex), "root": root.hex, "result": result])
            }
            for i in 0 ..< n {
                add("leaf \(i) of \(n)", "valid", leaf: leaves[i], index: i, size: n, proof: try tree.inclusionProof(index: UInt64(i)).path,
                    root: tree.root, result: "valid")
            }
            for i in Set([0, n / 2, n - 1]).sorted() {
                let leaf = leaves[i]
                let proof = try tree.inclusionProof(index: UInt64(i)).path
                let root = tree.root
                func bad(_ comment: String, _ flag: String, leaf l: [UInt8]? = nil, index x: Int? = nil, size s: Int? = nil, proof p: [Digest]? = nil, root r: Digest? = nil) {
                    add("leaf \(i) of \(n): \(comment)", flag, leaf: l ?? leaf, index: x ?? i, size: s ?? n, proof: p ?? proof, root: r ?? root, result: "invalid")
                }
                if n > 1 { bad("the leaf of index \((i + 1) % n)", "wrong-leaf", leaf: leaves[(i + 1) % n]) }
                bad("one more byte", "wrong-leaf", leaf: leaf + [0])
                if !leaf.isEmpty { bad("bit 0 of the leaf flipped", "flipped-bit-in-leaf", leaf: flipped(leaf, bit: 0)) }
                if n > 1 { bad("under index \(i + 1 < n ? i + 1 : i - 1)", "wrong-index", index: i + 1 < n ? i + 1 : i - 1) }
                bad("under index \(n)", "index-out-of-range", index: n)
                if !proof.isEmpty { bad("last proof element dropped", "truncated-proof", proof: Array(proof.dropLast())) }
                if proof.count > 1 { bad("no proof elements", "empty-proof", proof: []) }
                bad("one extra proof element", "extra-proof-element", proof: proof + [sha("extra")])
                for k in proof.indices { bad("bit \(k * 7 % 256) of proof element \(k) flipped", "flipped-bit-in-proof", proof: proof.enumerated().map { $0.offset == k ? flipped($0.element, bit: k * 7 % 256) : $0.element }) }
                if proof.count > 1 { bad("first two proof elements swapped", "swapped-proof-elements", proof: [proof[1], proof[0]] + proof.dropFirst(2)) }
                bad("last bit of the root flipped", "wrong-root", root: flipped(root, bit: 255))
                if n < 17 { bad("the root of the tree of \(n + 1) leaves", "wrong-root", root: MerkleTree(leaves: Array(merkleLeaves[..<(n + 1)])).root) }
                bad("the leaf's hash given as the leaf", "leaf-hash-as-leaf", leaf: MerkleHasher.rfc6962.leafHash(leaf).bytes)
                for s in [n - 1, n + 1] where s > i {
                    let sameShape = (try? MerkleVerifier.verifyInclusion(leaf: leaf, proof: InclusionProof(index: UInt64(i), treeSize: UInt64(s), path: proof), root: root)) != nil
                    if sameShape {
                        add("leaf \(i) of \(n): under tree size \(s), where the proof has the same shape", "TreeSizeNotBound",
                            leaf: leaf, index: i, size: s, proof: proof, root: root, result: "acceptable")
                    } else {
                        bad("under tree size \(s)", "wrong-tree-size", size: s)
                    }
                }
            }
            if n >= 4 && n & (n - 1) == 0 {
                // Interior-node-as-leaf: the level-1 nodes of an n-leaf tree as the leaves of an n/2-leaf tree.
                let h = leaves.map { MerkleHasher.rfc6962.leafHash($0) }
                let level1 = stride(from: 0, to: n, by: 2).map { MerkleHasher.rfc6962.nodeHash(h[$0], h[$0 + 1]) }
                let upper = MerkleTree(leafHashes: level1)
                precondition(upper.root == tree.root)
                add("children of the interior node over leaves 0 and 1 as leaf 0 of a tree of \(n / 2)", "interior-node-as-leaf",
                    leaf: h[0].bytes + h[1].bytes, index: 0, size: n / 2, proof: try upper.inclusionProof(index: 0).path, root: tree.root, result: "invalid")
            }
            count += tests.count
            groups.append(["type": "MerkleInclusion", "treeSize": n, "root": tree.root.hex, "tests": tests])
        }
        return [
            "algorithm": "Merkle inclusion proofs (RFC 9162 §2.1.3, SHA-256; leaf 0x00, node 0x01)",
            "schema": "lockstep_merkle_inclusion_v1",
            "header": [
                "Each test: a leaf (hex), its index, a tree size, a proof (sibling hashes from the leaf up, hex) and a root.",
                "Verify with MerkleVerifier.verifyInclusion(leaf:proof:root:). 'valid' must verify, 'invalid' must be rejected, 'acceptable' may go either way (see notes).",
                "Leaves 0 … 7 are the certificate-transparency reference test leaves; 8 … 16 are Lockstep trace leaves.",
            ],
            "notes": merkleNotes,
            "numberOfTests": count,
            "testGroups": groups,
        ]
    }

    // MARK: Commitments

    static let vectorKeys = (1 ... 2).map { try! Ed25519PrivateKey(seed: sha("lockstep vector key \($0)").bytes) }

    static func validCommitments() throws -> [(String, Commitment, Int)] {
        let schedule = StepSchedule(promptCount: 4, layers: 30)
        let smol = try ModelShape(dim: 576, vocabularySize: 49152, layers: 30)
        let greedy = try TraceRequest(modelDigest: sha("lockstep vector model A"), shape: smol, promptTokens: [1, 2, 3, 285], temperatureBits: 0, seed: 0, maxTokens: 8)
        let sampled = try TraceRequest(modelDigest: sha("lockstep vector model B"), shape: try ModelShape(dim: 4096, vocabularySize: 128256, layers: 32), promptTokens: (0 ..< 40).map { TokenID($0 * 1229 % 49152) },
                                       temperatureBits: Float(0.7).bitPattern, seed: UInt64.max, maxTokens: 32)
        let empty = try TraceRequest(modelDigest: sha("lockstep vector model A"), shape: smol, promptTokens: [7], temperatureBits: Float(1).bitPattern, seed: 12345, maxTokens: 0)
        return [
            ("greedy, 3 output tokens", try Commitment(request: greedy, outputTokens: [7042, 11, 2], leafCount: UInt64(schedule.leafCount(outputCount: 3)),
                                                        root: sha("lockstep vector root 1"), finalChain: sha("lockstep vector chain 1")), 0),
            ("temperature 0.7, seed 2^64−1, 32 output tokens", try Commitment(request: sampled, outputTokens: (0 ..< 32).map { TokenID(49151 - $0 * 997 % 49152) },
                                                        leafCount: UInt64(StepSchedule(promptCount: 40, layers: 32).leafCount(outputCount: 32)),
                                                        root: sha("lockstep vector root 2"), finalChain: sha("lockstep vector chain 2")), 0),
            ("max tokens 0: no steps, empty-tree root, chain c₀", try Commitment(request: empty, outputTokens: [], leafCount: 0,
                                                        root: MerkleHasher.rfc6962.emptyRoot, finalChain: empty.chainStart), 1),
        ]
    }

    static func signedCommitments() throws -> [String: Any] {
        var groups: [[String: Any]] = []
        var id = 0, count = 0
        for (ci, (name, commitment, keyIndex)) in try validCommitments().enumerated() {
            let key = vectorKeys[keyIndex], other = vectorKeys[1 - keyIndex]
            let signature = try key.signature(for: commitment.encoding)
            var tests: [[String: Any]] = []
            func add(_ comment: String, _ flag: String, _ c: Commitment, signature s: [UInt8] = signature, publicKey: String = key.publicKey.hex, result: String) {
                id += 1
                tests.append(["tcId": id, "comment": comment, "flags": [flag], "commitment": c.jsonObject, "message": Hex.encode(c.encoding),
                              "signature": Hex.encode(s), "publicKey": publicKey, "result": result])
            }
            add(name, "valid", commitment, result: "valid")
            let r = commitment.request
            func request(version: String? = nil, model: Digest? = nil, shape: ModelShape? = nil, prompt: [TokenID]? = nil, temperature: UInt32? = nil, seed: UInt64? = nil, maxTokens: Int? = nil) throws -> TraceRequest {
                try TraceRequest(contractVersion: version ?? r.contractVersion, modelDigest: model ?? r.modelDigest, shape: shape ?? r.shape, promptTokens: prompt ?? r.promptTokens,
                                 temperatureBits: temperature ?? r.temperatureBits, seed: seed ?? r.seed, maxTokens: maxTokens ?? Int(r.maxTokens))
            }
            func with(_ rq: TraceRequest? = nil, output: [TokenID]? = nil, leafCount: UInt64? = nil, root: Digest? = nil, chain: Digest? = nil) throws -> Commitment {
                try Commitment(request: rq ?? r, outputTokens: output ?? commitment.outputTokens, leafCount: leafCount ?? commitment.leafCount,
                               root: root ?? commitment.root, finalChain: chain ?? commitment.finalChain)
            }
            let out = commitment.outputTokens
            add("contract_version changed", "changed-contract-version", try with(request(version: "0.2")), result: "invalid")
            add("model_digest: bit 0 flipped", "changed-model-digest", try with(request(model: flipped(r.modelDigest, bit: 0))), result: "invalid")
            let sh = r.shape
            add("dim + 1", "changed-model-shape", try with(request(shape: ModelShape(dim: sh.dim + 1, vocabularySize: sh.vocabularySize, layers: sh.layers))), result: "invalid")
            add("vocab_size − 1", "changed-model-shape", try with(request(shape: ModelShape(dim: sh.dim, vocabularySize: sh.vocabularySize - 1, layers: sh.layers))), result: "invalid")
            add("layers + 1", "changed-model-shape", try with(request(shape: ModelShape(dim: sh.dim, vocabularySize: sh.vocabularySize, layers: sh.layers + 1))), result: "invalid")
            add("prompt_tokens: first token + 1", "changed-prompt-tokens", try with(request(prompt: [r.promptTokens[0] + 1] + r.promptTokens.dropFirst())), result: "invalid")
            add("prompt_tokens: one token appended", "changed-prompt-tokens", try with(request(prompt: r.promptTokens + [0])), result: "invalid")
            if r.promptTokens.count > 1 { add("prompt_tokens: last token removed", "changed-prompt-tokens", try with(request(prompt: Array(r.promptTokens.dropLast()))), result: "invalid") }
            add("temperature: next binary32 value", "changed-temperature", try with(request(temperature: r.temperatureBits + 1)), result: "invalid")
            add("seed + 1 (wrapping)", "changed-seed", try with(request(seed: r.seed &+ 1)), result: "invalid")
            add("max_tokens + 1", "changed-max-tokens", try with(request(maxTokens: Int(r.maxTokens) + 1)), result: "invalid")
            if !out.isEmpty { add("output_tokens: last token + 1", "changed-output-tokens", try with(output: out.dropLast() + [out.last! + 1]), result: "invalid") }
            add("output_tokens: one token appended", "changed-output-tokens", try with(output: out + [2]), result: "invalid")
            if !out.isEmpty { add("output_tokens: last token removed", "changed-output-tokens", try with(output: Array(out.dropLast())), result: "invalid") }
            add("leaf_count + 1", "changed-leaf-count", try with(leafCount: commitment.leafCount + 1), result: "invalid")
            add("root: bit 255 flipped", "changed-root", try with(root: flipped(commitment.root, bit: 255)), result: "invalid")
            add("final_chain: bit 100 flipped", "changed-final-chain", try with(chain: flipped(commitment.finalChain, bit: 100)), result: "invalid")
            add("root and final_chain exchanged", "changed-root", try with(root: commitment.finalChain, chain: commitment.root), result: "invalid")
            add("signed by another key", "wrong-public-key", commitment, publicKey: other.publicKey.hex, result: "invalid")
            add("public key with bit 0 flipped", "wrong-public-key", commitment, publicKey: Hex.encode(flipped(key.publicKey.rawRepresentation, bit: 0)), result: "invalid")
            add("another key's signature", "wrong-public-key", commitment, signature: try other.signature(for: commitment.encoding), result: "invalid")
            let bits = ci == 0 ? Array(0 ..< 512) : [0, 7, 255, 256, 504, 511]
            for bit in bits { add("signature bit \(bit) flipped", "flipped-bit-in-signature", commitment, signature: flipped(signature, bit: bit), result: "invalid") }
            add("signature truncated to 63 bytes", "malformed-signature", commitment, signature: Array(signature.dropLast()), result: "invalid")
            add("signature with a 65th byte", "malformed-signature", commitment, signature: signature + [0], result: "invalid")
            add("all-zero signature", "malformed-signature", commitment, signature: [UInt8](repeating: 0, count: 64), result: "invalid")
            add("R and S exchanged", "malformed-signature", commitment, signature: Array(signature[32...] + signature[..<32]), result: "invalid")
            count += tests.count
            groups.append(["type": "SignedCommitment", "publicKey": key.publicKey.hex, "tests": tests])
        }
        return [
            "algorithm": "Lockstep commitment v1 (SPEC §7.6), Ed25519 (RFC 8032) over the canonical encoding",
            "schema": "lockstep_signed_commitment_v1",
            "header": [
                "Each test: a commitment in its JSON form, its canonical encoding ('message', hex), a signature and a public key (hex).",
                "An implementation must encode the commitment to exactly 'message', and accept the signature only for 'valid' tests.",
                "The keys' seeds are SHA-256(\"lockstep vector key 1\") and SHA-256(\"lockstep vector key 2\"); the digests are SHA-256 of fixed strings.",
            ],
            "notes": [
                "valid": "A correctly signed commitment.",
                "changed-contract-version": "One field changed after signing.", "changed-model-digest": "One field changed after signing.",
                "changed-model-shape": "One field changed after signing.",
                "changed-prompt-tokens": "One field changed after signing.", "changed-temperature": "One field changed after signing.",
                "changed-seed": "One field changed after signing.", "changed-max-tokens": "One field changed after signing.",
                "changed-output-tokens": "One field changed after signing.", "changed-leaf-count": "One field changed after signing.",
                "changed-root": "One field changed after signing.", "changed-final-chain": "One field changed after signing.",
                "wrong-public-key": "Checked against another key (or signed by another key).",
                "flipped-bit-in-signature": "One bit of the 64-byte signature flipped (bit 0 = least significant bit of byte 0).",
                "malformed-signature": "A signature of the wrong length or form.",
            ],
            "numberOfTests": count,
            "testGroups": groups,
        ]
    }

    // MARK: Step digests, chain and trace file

    /// A synthetic request (dim 4, vocab 6, 2 layers; 2 prompt tokens, 2 generated) whose step
    /// outputs are fixed binary32 rows (with −0, a subnormal, ∞ and a NaN payload), so other
    /// implementations can check step digests, the chain, the leaves, the root, the commitment
    /// and the trace file format without running a model.
    static func traceChain() throws -> [String: Any] {
        let request = try TraceRequest(modelDigest: sha("lockstep vector model A"), shape: try ModelShape(dim: 4, vocabularySize: 6, layers: 2),
                                       promptTokens: [5, 3], temperatureBits: 0, seed: 0, maxTokens: 4)
        let header = TraceHeader(request: request, storesStates: true)
        let writer = TraceWriter(header: header)
        let recorder = TraceRecorder(header: header, writer: writer)
        let output: [TokenID] = [4, 1]
        let special: [Float] = [-0.0, Float(bitPattern: 1), .infinity, Float(bitPattern: 0x7FC0_1234)]
        var steps: [[String: Any]] = []
        let hasher = SHA256Hasher()
        for i in 0 ..< header.schedule.leafCount(outputCount: output.count) {
            let step = header.schedule.step(at: i)
            var state: [UInt8]
            let digest: Digest
            if step.kind == .sample {
                let logits = (0 ..< 6).map { Float($0) * 0.25 - Float(i) }
                let token = UInt32(output[Int(step.position) - 1])
                digest = logits.withUnsafeBufferPointer { StepDigest.sample(step, logits: $0, token: token, hasher: hasher) }
                try logits.withUnsafeBufferPointer { (p) throws(TraceError) in try recorder.recordSample(position: Int(step.position), logits: p, token: TokenID(token)) }
                state = logits.withUnsafeBytes { Array($0) }
                withUnsafeBytes(of: token.littleEndian) { state += $0 }
            } else {
                let row: [Float] = (0 ..< 4).map { j in j == i % 4 ? special[(i / 4) % 4] : Float(i * 4 + j) / 3 }
                digest = row.withUnsafeBufferPointer { StepDigest.state(step, row: $0, hasher: hasher) }
                state = row.withUnsafeBytes { Array($0) }
                let failure = state.withUnsafeBytes { p -> TraceError? in
                    do { try recorder.record(step, digest: digest, state: [p]); return nil } catch { return error as? TraceError ?? .io("\(error)") }
                }
                if let failure { throw failure }
            }
            let leaf = recorder.leaves[i]
            precondition(leaf.stepDigest == digest)
            steps.append(["index": i, "kind": Int(step.kind.rawValue), "position": Int(step.position), "layer": Int(step.layer),
                          "header": Hex.encode(step.header), "state": Hex.encode(state), "stepDigest": digest.hex, "chain": leaf.chain.hex,
                          "leaf": Hex.encode(leaf.bytes), "leafHash": leaf.hash().hex])
        }
        let signed = try recorder.finish(outputTokens: output, key: vectorKeys[0])
        return [
            "algorithm": "Lockstep trace v1 (SPEC §7): step digests, hash chain, leaves, Merkle root, commitment, trace file",
            "schema": "lockstep_trace_chain_v1",
            "header": ["A synthetic request (dim 4, vocab 6, 2 layers, prompt [5, 3], output [4, 1]) with fixed step states; no model runs."],
            "numberOfTests": 1,
            "testGroups": [[
                "type": "TraceChain",
                "tests": [[
                    "tcId": 1, "comment": "11 steps: 3 positions × (embedding + 2 layers) + 2 sample steps", "flags": ["valid"], "result": "valid",
                    "dim": 4, "vocabularySize": 6, "layers": 2,
                    "request": Hex.encode(request.encoding), "requestDigest": request.digest.hex, "chainStart": request.chainStart.hex,
                    "steps": steps, "root": signed.commitment.root.hex, "finalChain": signed.commitment.finalChain.hex,
                    "commitment": signed.jsonObject, "commitmentEncoding": Hex.encode(signed.commitment.encoding),
                    "traceFile": Hex.encode(writer.bytes),
                ]],
            ]],
        ]
    }
}
