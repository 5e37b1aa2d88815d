import Foundation
import XCTest
import Lockstep
import LockstepTestSupport

/// Shared fixtures: a tiny model written to disk (the CLI needs a path), honest and faulted traces.
enum Fixture {
    static let spec = TinyModelSpec(seed: 7)
    static let dir: URL = try! freshTemporaryDirectory("verify")
    static let modelPath: String = {
        let p = dir.appendingPathComponent("tiny.gguf").path
        try! TinyModel.write(spec, to: p)
        return p
    }()
    static let otherModelPath: String = {
        let p = dir.appendingPathComponent("tiny-other.gguf").path
        try! TinyModel.write(TinyModelSpec(seed: 8), to: p)
        return p
    }()
    static let model: LlamaModel = try! LlamaModel(path: modelPath)
    static let digest: Digest = model.digest()
    static let key = NodeKey.generate().privateKey
    static let prompt: [TokenID] = [1, 5, 9]

    /// Writes a trace (with states) and returns its contents.
    static func trace(_ name: String, maxTokens: Int = 4, prompt: [TokenID] = prompt, fault: FaultInjection? = nil,
                      states: Bool = true, sampler: SamplerSettings = .greedy) throws -> (path: String, contents: TraceContents) {
        let path = dir.appendingPathComponent(name).path
        _ = try TracedGeneration.run(model: model, backend: ReferenceBackend(), prompt: prompt, maxTokens: maxTokens, sampler: sampler,
                                     key: key, modelDigest: digest, tracePath: path, options: TraceOptions(storeStates: states, fault: fault))
        return (path, try TraceReader.read(path: path, keepStates: states))
    }

    static func ceilLog2(_ n: Int) -> Int { n <= 1 ? 0 : Int.bitWidth - (n - 1).leadingZeroBitCount }
}

/// Runs a built executable of this package with a time limit.
struct Binary {
    typealias Result = BuiltProduct.Result

    static func run(_ name: String, _ arguments: [String], timeout: TimeInterval = 300) throws -> Result {
        try BuiltProduct.run(name, arguments, timeout: timeout)
    }

    static func verify(_ arguments: [String]) throws -> Result { try run("lockstep-verify", arguments) }

    static func json(_ r: Result) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8))) as? [String: Any] ?? [:]
    }
}

/// Writes a well-formed trace file with arbitrary step digests (and `states`, one per step, when
/// given), chained, with its Merkle root, signed by `key`: a forger who controls the node's key.
func forgeTrace(path: String, request: TraceRequest, stepDigests: [Digest], outputTokens: [TokenID], key: Ed25519PrivateKey,
                states: [[UInt8]]? = nil) throws {
    let header = TraceHeader(request: request, storesStates: states != nil)
    let writer = try TraceWriter(path: path, header: header)
    var chain = request.chainStart
    var builder = MerkleTreeBuilder()
    for (i, o) in stepDigests.enumerated() {
        chain = TraceChain.next(chain, o)
        let state = states?[i] ?? []
        try state.withUnsafeBytes { bytes in
            try writer.append(header.schedule.step(at: i), stepDigest: o, chain: chain, state: states == nil ? [] : [bytes])
        }
        builder.append(leafHash: TraceLeaf(index: UInt64(i), stepDigest: o, chain: chain).hash())
    }
    let c = try Commitment(request: request, outputTokens: outputTokens, leafCount: UInt64(stepDigests.count), root: builder.root, finalChain: chain)
    try writer.finish(try c.signed(with: key))
}
