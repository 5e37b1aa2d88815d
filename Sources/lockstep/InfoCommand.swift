import ArgumentParser
import Foundation
import Lockstep

struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Architecture, tensor types, parameter count and model digest.")

    @OptionGroup var modelOptions: ModelOptions
    @Flag(name: .long, help: "Print one JSON object.")
    var json = false

    func run() throws {
        let model = try modelOptions.load()
        let c = model.config
        var typeCounts: [String: Int] = [:]
        var parameters = 0
        for t in model.file.tensors {
            typeCounts[t.type.name, default: 0] += 1
            parameters += t.elementCount
        }
        let digest = model.digest().hex
        if json {
            var config: [String: Any] = [
                "dim": c.dim, "layers": c.layers, "heads": c.heads, "kv_heads": c.kvHeads, "head_dim": c.headDim,
                "ffn_dim": c.ffnDim, "vocab_size": c.vocabularySize, "rms_epsilon": Double(c.rmsEpsilon),
                "rope_base": Double(c.ropeBase), "rope_dimensions": c.ropeDimensions, "context_length": c.contextLength,
            ]
            config["architecture"] = "llama"
            try Terminal.json([
                "path": model.file.path, "gguf_version": Int(model.file.version), "config": config,
                "tensor_types": typeCounts, "tensor_count": model.file.tensors.count, "parameters": parameters,
                "model_digest": digest, "contract_version": ContractVersion.current,
                "tokenizer": ["model": model.tokenizer.vocabulary.model, "pre": model.tokenizer.vocabulary.pre ?? "", "tokens": model.tokenizer.vocabularySize],
            ])
        } else {
            let types = typeCounts.sorted { $0.key < $1.key }.map { "\($0.key)×\($0.value)" }.joined(separator: ", ")
            Terminal.out("""
                file:          \(model.file.path) (GGUF v\(model.file.version), \(model.file.fileSize) bytes)
                architecture:  llama, \(c.layers) layers, dim \(c.dim), \(c.heads) heads / \(c.kvHeads) KV heads (head dim \(c.headDim)), FFN \(c.ffnDim)
                vocabulary:    \(c.vocabularySize) tokens (\(model.tokenizer.vocabulary.model), pre-tokenizer \(model.tokenizer.vocabulary.pre ?? "default"))
                rope:          base \(c.ropeBase), \(c.ropeDimensions) rotated dims; RMSNorm eps \(c.rmsEpsilon); context \(c.contextLength)
                tensors:       \(model.file.tensors.count) (\(types))
                parameters:    \(parameters)
                model digest:  \(digest)
                contract:      \(ContractVersion.current)

                """)
        }
    }
}
