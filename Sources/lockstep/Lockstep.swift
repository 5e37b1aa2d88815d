import ArgumentParser
import Foundation
import LockstepCommandLine

@main
struct LockstepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lockstep",
        abstract: "Deterministic, verifiable inference for Llama-family GGUF models.",
        subcommands: [GenerateCommand.self, ScoreCommand.self, InfoCommand.self, BackendsCommand.self, BenchCommand.self,
                      KeygenCommand.self, TinyModelCommand.self, VectorsCommand.self, ServeCommand.self])

    /// Runs the command; a `CLIError` is printed as `lockstep: error: MESSAGE` with exit status 1,
    /// its control characters written as `\u{XX}` (the message may quote a model file). Output
    /// that could not be written to stdout (a full disk) is an error too, with exit status 1.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let error as CLIError {
            StandardStreams.error(terminalSafe("lockstep: error: \(error.description)\n"))
            Foundation.exit(1)
        } catch {
            exit(withError: error)
        }
        if let why = StandardStreams.outputFailure {
            StandardStreams.error("lockstep: error: standard output: \(why); the output is incomplete\n")
            Foundation.exit(1)
        }
    }
}
