import Foundation
import XCTest
import LockstepTestSupport
import Lockstep

@testable import LockstepTrace

func sha(_ s: String) -> Digest { SHA256Hasher.hash(Array(s.utf8)) }

func hex(_ s: String) -> [UInt8] { Hex.decode(s)! }

/// Flips bit `bit` (0 = least significant bit of byte 0) of a copy of `bytes`.
func flipped(_ bytes: [UInt8], bit: Int) -> [UInt8] {
    var b = bytes
    b[bit / 8] ^= 1 << UInt8(bit % 8)
    return b
}

func flipped(_ d: Digest, bit: Int) -> Digest { Digest(bytes: flipped(d.bytes, bit: bit)) }

/// An independent, deliberately naive RFC 9162 §2.1.1/§2.1.3.1 implementation (recursive MTH and
/// PATH), to check the library's level-based tree and streaming builder against.
enum ReferenceMerkle {
    static func leafHash(_ leaf: [UInt8]) -> Digest { SHA256Hasher.hash([0] + leaf) }
    static func nodeHash(_ l: Digest, _ r: Digest) -> Digest { SHA256Hasher.hash([1] + l.bytes + r.bytes) }

    /// Largest power of two strictly below n (n ≥ 2).
    static func split(_ n: Int) -> Int {
        var k = 1
        while k * 2 < n { k *= 2 }
        return k
    }

    static func root(_ leaves: ArraySlice<[UInt8]>) -> Digest {
        switch leaves.count {
        case 0: return SHA256Hasher.hash([])
        case 1: return leafHash(leaves.first!)
        default:
            let k = split(leaves.count), s = leaves.startIndex
            return nodeHash(root(leaves[s ..< s + k]), root(leaves[(s + k)...]))
        }
    }

    static func path(_ m: Int, _ leaves: ArraySlice<[UInt8]>) -> [Digest] {
        let n = leaves.count, s = leaves.startIndex
        if n <= 1 { return [] }
        let k = split(n)
        if m < k { return path(m, leaves[s ..< s + k]) + [root(leaves[(s + k)...])] }
        return path(m - k, leaves[(s + k)...]) + [root(leaves[s ..< s + k])]
    }
}

/// The directory `Vectors/` at the repository root, found from this file's path.
func vectorsDirectory(_ file: String = #filePath) -> URL {
    URL(fileURLWithPath: file).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Vectors")
}

/// Loads a vector file as a JSON object.
func loadVectors(_ relativePath: String) throws -> [String: Any] {
    let url = vectorsDirectory().appendingPathComponent(relativePath)
    let data = try Data(contentsOf: url)
    return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any], "\(relativePath) is not a JSON object")
}

/// Models the trace tests run on.
enum TraceFixtures {
    static func tiny(_ spec: TinyModelSpec = TinyModelSpec()) throws -> LlamaModel {
        try LlamaModel(file: GGUFFile(bytes: TinyModel.gguf(spec), name: "tiny-\(spec.seed).gguf"))
    }

    /// The real model, or a skip (a failure when `LOCKSTEP_REQUIRE_MODEL=1`).
    static func real() throws -> LlamaModel { try RealModel.load() }

    /// A fixed signing key.
    static let key = try! Ed25519PrivateKey(seed: sha("lockstep test key").bytes)

    /// A small traced request (a seed-9 tiny model, sampled) written to a file that is removed
    /// when `test` ends; returns the result, the file's bytes and its path.
    static func tracedFile(_ test: XCTestCase, states: Bool, maxTokens: Int = 4, prompt: [TokenID] = [5, 6, 7]) throws -> (TracedResult, [UInt8], String) {
        let model = try tiny(TinyModelSpec(seed: 9, dim: 32, layers: 2, heads: 2, kvHeads: 1, ffnDim: 64))
        let dir = try temporaryDirectory()
        test.addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("t.trace").path
        let result = try TracedGeneration.run(model: model, backend: ReferenceBackend(), prompt: prompt, maxTokens: maxTokens,
                                              sampler: SamplerSettings(temperature: 0.8, seed: 3), key: key, tracePath: path,
                                              options: TraceOptions(storeStates: states))
        return (result, Array(try Data(contentsOf: URL(fileURLWithPath: path))), path)
    }

    /// Byte offsets of the step records and of the footer of a trace with `count` records.
    static func recordBoundaries(header: TraceHeader, count: Int) -> [Int] {
        var offset = TraceHeader.fixedBytes + header.request.encoding.count
        var out = [offset]
        for i in 0 ..< count {
            offset += stepRecordFixedBytes + (header.storesStates ? header.stateByteCount(header.schedule.step(at: i).kind) : 0)
            out.append(offset)
        }
        return out
    }

    static func temporaryDirectory() throws -> URL {
        try freshTemporaryDirectory("trace")
    }
}
