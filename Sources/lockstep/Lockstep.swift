import ArgumentParser

@main
struct LockstepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lockstep",
        abstract: "Deterministic, verifiable inference for Llama-family GGUF models.",
        subcommands: [GenerateCommand.self, ScoreCommand.self, InfoCommand.self, TinyModelCommand.self])
}
