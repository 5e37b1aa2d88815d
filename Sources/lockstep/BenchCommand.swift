import ArgumentParser
import Foundation
import Lockstep

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure prefill and decode speed and peak memory on one backend (Benchmarks/speed runs it beside llama.cpp).")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var backendOptions: BackendOptions
    @Option(name: .long, help: "Prompt length for the prefill measurement, in tokens.")
    var promptTokens: Int = 128
    @Option(name: .long, help: "Tokens to decode after the prompt.")
    var decodeTokens: Int = 64
    @Option(name: .long, help: "A file of whitespace-separated prompt token ids (default: repeated text).")
    var promptFile: String?
    @Flag(name: .long, help: "Print one JSON object.")
    var json = false

    func validate() throws {
        if promptTokens < 1 { throw ValidationError("--prompt-tokens must be ≥ 1, got \(promptTokens)") }
        if decodeTokens < 1 { throw ValidationError("--decode-tokens must be ≥ 1, got \(decodeTokens)") }
    }

    func run() throws {
        let model = try modelOptions.load()
        let limit = model.config.contextLimit
        guard promptTokens <= limit, decodeTokens <= limit - promptTokens else {
            throw CLIError("--prompt-tokens \(promptTokens) and --decode-tokens \(decodeTokens) need more positions than the model's context of \(limit)")
        }
        let backend = try backendOptions.make()
        var prompt: [TokenID]
        if let promptFile {
            let text = try readTextFile(promptFile)
            prompt = []
            for (i, word) in text.split(whereSeparator: \.isWhitespace).enumerated() {
                guard let id = TokenID(word), id >= 0, Int(id) < model.config.vocabularySize else {
                    throw CLIError("\(promptFile): token \(i) is '\(word.prefix(40))', not a token id in 0 ..< \(model.config.vocabularySize)")
                }
                prompt.append(id)
            }
        } else {
            let text = String(repeating: "The quick brown fox jumps over the lazy dog while the band plays on. ", count: 64)
            prompt = model.tokenizer.encode(text, addSpecial: false)
        }
        guard prompt.count >= promptTokens else {
            throw CLIError("--prompt-tokens \(promptTokens): the prompt\(promptFile.map { " in \($0)" } ?? "") has only \(prompt.count) tokens")
        }
        prompt = Array(prompt.prefix(promptTokens))
        let session = InferenceSession(model: model, backend: backend)
        let t0 = Date()
        var logits = try session.evaluate(prompt)
        let prefill = Date().timeIntervalSince(t0)
        let t1 = Date()
        for i in 0..<decodeTokens {
            let next = logits.withUnsafeBufferPointer { Sampler.sample($0, settings: .greedy, index: i) }
            logits = try session.evaluate([next])
            Terminal.progress("decode \(i + 1)/\(decodeTokens)")
        }
        let decode = Date().timeIntervalSince(t1)
        Terminal.endProgress()
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let peakMB = Double(usage.ru_maxrss) / 1024
        let result: [String: Any] = [
            "backend": backend.name, "threads": backendOptions.threads, "prompt_tokens": promptTokens, "decode_tokens": decodeTokens,
            "prefill_seconds": prefill, "prefill_tokens_per_second": Double(promptTokens) / prefill,
            "decode_seconds": decode, "decode_tokens_per_second": Double(decodeTokens) / decode,
            "peak_rss_mb": peakMB, "model_file_mb": Double(model.file.fileSize) / 1_048_576,
        ]
        if json {
            try Terminal.json(result)
        } else {
            Terminal.out(String(format: "%@ ×%d: prefill %d tokens %.2f tok/s, decode %d tokens %.2f tok/s, peak RSS %.0f MB\n",
                                backend.name, backendOptions.threads, promptTokens, Double(promptTokens) / prefill,
                                decodeTokens, Double(decodeTokens) / decode, peakMB))
        }
    }
}
