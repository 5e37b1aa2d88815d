import ArgumentParser
import Lockstep

struct TinyModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tiny-model",
        abstract: "Write a small seed-generated Llama GGUF (tests, vectors, the fallback model).")

    @Option(name: .long, help: "Output GGUF path.")
    var out: String
    @Option(name: .long) var seed: UInt64 = TinyModelSpec.standard.seed
    @Option(name: .long) var dim: Int = TinyModelSpec.standard.dim
    @Option(name: .long) var layers: Int = TinyModelSpec.standard.layers
    @Option(name: .long) var heads: Int = TinyModelSpec.standard.heads
    @Option(name: .long) var kvHeads: Int = TinyModelSpec.standard.kvHeads
    @Option(name: .long) var ffnDim: Int = TinyModelSpec.standard.ffnDim
    @Option(name: .long, help: "Projection tensor type: F32, F16, BF16, Q8_0, Q4_0, Q4_1.")
    var weightType: String = TinyModelSpec.standard.weightType.name
    @Option(name: .long, help: "Embedding tensor type.")
    var embeddingType: String = TinyModelSpec.standard.embeddingType.name
    @Flag(name: .long, help: "Write a separate output.weight instead of tying it to the embeddings.")
    var untied = false

    func run() throws {
        func type(_ name: String) throws -> GGMLType {
            guard let t = GGMLType.allCases.first(where: { $0.name == name.uppercased() }) else {
                throw ValidationError("unknown tensor type '\(name)' (F32, F16, BF16, Q8_0, Q4_0, Q4_1)")
            }
            return t
        }
        let spec = TinyModelSpec(seed: seed, dim: dim, layers: layers, heads: heads, kvHeads: kvHeads, ffnDim: ffnDim,
                                 weightType: try type(weightType), embeddingType: try type(embeddingType), tiedOutput: !untied)
        if let problem = spec.problem { throw ValidationError(problem) }
        do { try TinyModel.write(spec, to: out) } catch { throw CLIError(error.description) }
        Terminal.out("wrote \(out)\n")
    }
}
