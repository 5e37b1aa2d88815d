import ArgumentParser
import Foundation
import Lockstep

struct ScoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "score",
        abstract: "Teacher-forced scoring of a text file: per-position top-1 ids, NLL and perplexity.")

    @OptionGroup var modelOptions: ModelOptions
    @Option(name: .long, help: "UTF-8 text file to score.")
    var textFile: String
    @OptionGroup var backendOptions: BackendOptions
    @Flag(name: .long, help: "Print one JSON object.")
    var json = false

    func run() throws {
        let text = try readTextFile(textFile)
        let model = try modelOptions.load()
        let backend = try backendOptions.make()
        let tokens = model.tokenizer.encode(text, addSpecial: true, parseSpecial: false)
        let result: ScoreResult
        do {
            result = try model.score(tokens: tokens, backend: backend) { done in
                Terminal.progress("scoring: \(done)/\(tokens.count - 1) positions")
            }
        } catch { throw CLIError("\(textFile): \(error)") }
        Terminal.endProgress()
        if json {
            try Terminal.json([
                "tokens": result.tokens.map(Int.init),
                "top1": result.top1.map(Int.init),
                "nll": result.nll,
                "perplexity": result.perplexity,
                "backend": backend.name,
            ])
        } else {
            Terminal.out(String(format: "%d tokens, %d scored positions, perplexity %.4f\n", result.tokens.count, result.nll.count, result.perplexity))
        }
    }
}
