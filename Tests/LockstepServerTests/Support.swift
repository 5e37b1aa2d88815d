import Foundation
import LockstepTestSupport
import Lockstep
import LockstepServer

/// A tiny model on disk and a node over it with its own trace directory.
enum Fixture {
    static let dir: URL = try! freshTemporaryDirectory("server")
    static let model: LlamaModel = {
        let path = dir.appendingPathComponent("tiny.gguf").path
        try! TinyModel.write(TinyModelSpec(seed: 7), to: path)
        return try! LlamaModel(path: path)
    }()

    /// A node whose traces go to `directory` (default: a fresh one).
    static func node(_ limits: NodeService.Limits = NodeService.Limits(),
                     directory: String = dir.appendingPathComponent("traces-\(UUID().uuidString)").path) throws -> NodeService {
        try NodeService(model: model, backend: try BackendRegistry.make("cpu", threads: 2), key: NodeKey.generate(),
                        traceDirectory: directory, limits: limits)
    }
}
