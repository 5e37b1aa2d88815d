import ArgumentParser
import Foundation
import Lockstep

struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Generate text; tokens stream to stdout as they are chosen.")

    @OptionGroup var modelOptions: ModelOptions
    @Option(name: .long, help: "Raw prompt text (no chat template).")
    var prompt: String?
    @Option(name: .long, help: "A user message, wrapped in the model's chat template.")
    var chat: String?
    @Option(name: .long, help: "Maximum tokens to generate.")
    var maxTokens: Int = 32
    @Option(name: .long, help: "Sampling temperature; 0 is greedy.")
    var temperature: Float = 0
    @Option(name: .long, help: "Seed of the counter-based sampler.")
    var seed: UInt64 = 0
    @OptionGroup var backendOptions: BackendOptions
    @Flag(name: .long, help: "Print one JSON object instead of streaming text.")
    var json = false

    func validate() throws {
        if prompt != nil && chat != nil { throw ValidationError("give either --prompt or --chat, not both") }
        if maxTokens < 0 { throw ValidationError("--max-tokens must be ≥ 0, got \(maxTokens)") }
        if !(temperature >= 0 && temperature.isFinite) { throw ValidationError("--temperature must be a finite number ≥ 0, got \(temperature)") }
    }

    func run() throws {
        let model = try modelOptions.load()
        let backend = try backendOptions.make()
        let text: String
        var parseSpecial = false
        if let chat {
            do { text = try model.tokenizer.formatChat([ChatMessage(role: "user", content: chat)]) } catch { throw CLIError(error.description) }
            parseSpecial = true
        } else {
            text = prompt ?? ""
        }
        let promptTokens = model.tokenizer.encode(text, addSpecial: true, parseSpecial: parseSpecial)
        guard !promptTokens.isEmpty else { throw CLIError("the prompt is empty: give --prompt TEXT or --chat TEXT") }
        let session = InferenceSession(model: model, backend: backend)
        var detokenizer = StreamingDetokenizer(tokenizer: model.tokenizer)
        let started = Date()
        let tokens: [TokenID]
        do {
            tokens = try session.generate(prompt: promptTokens, maxTokens: maxTokens,
                                          sampler: SamplerSettings(temperature: temperature, seed: seed)) { id in
                if !json { Terminal.out(detokenizer.append(id)) }
                return true
            }
        } catch { throw CLIError(error.description) }
        let seconds = Date().timeIntervalSince(started)
        if json {
            try Terminal.json([
                "prompt_tokens": promptTokens.map(Int.init),
                "tokens": tokens.map(Int.init),
                "text": model.tokenizer.decode(tokens),
                "backend": backend.name,
                "contract_version": ContractVersion.current,
                "seconds": seconds,
            ])
        } else {
            Terminal.out(detokenizer.finish() + "\n")
            Terminal.note(String(format: "%d prompt + %d generated tokens in %.2f s on %@", promptTokens.count, tokens.count, seconds, backend.name))
        }
    }
}
