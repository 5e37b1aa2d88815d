import ArgumentParser
import Foundation
import Lockstep
import LockstepCommandLine

/// `--model PATH`: the GGUF to load; default the real model, else the built-in tiny model.
struct ModelOptions: ParsableArguments {
    @Option(name: .long, help: "GGUF model file (default: the real model in the cache, else the built-in tiny model).")
    var model: String?

    /// Loads the model, saying on stderr when the tiny fallback is used.
    func load() throws -> LlamaModel {
        var path = model
        if path == nil {
            let found: (path: String, isFallback: Bool)
            do { found = try ModelStore.defaultModel() } catch { throw CLIError(error.description) }
            if found.isFallback {
                Terminal.note("real model not found at \(ModelStore.realModelPath); using the built-in tiny model \(found.path)")
            }
            path = found.path
        }
        do {
            return try LlamaModel(path: path!)
        } catch {
            throw CLIError(error.description)
        }
    }
}

/// `--backend NAME --threads N`.
struct BackendOptions: ParsableArguments {
    @Option(name: .long, help: "Compute backend: \(BackendRegistry.names.joined(separator: ", ")).")
    var backend: String = BackendRegistry.defaultName

    @Option(name: .long, help: "Worker threads for the backend, 1–\(BackendRegistry.maxThreads) (default: the processor count, at most 8).")
    var threads: Int = min(ProcessInfo.processInfo.activeProcessorCount, 8)

    func make() throws -> any Backend {
        do { return try BackendRegistry.make(backend, threads: threads) } catch { throw CLIError(error.description) }
    }
}

/// The UTF-8 text of a file given on the command line (`score --text-file`, `bench --prompt-file`),
/// read through `readRegularFile`: at most 64 MiB — well past the text of the 2^20 positions the
/// contract defines (SPEC §5.1) — and never a FIFO or a device.
/// - Throws: `CLIError` naming the file.
func readTextFile(_ path: String) throws -> String {
    let data: [UInt8]
    do { data = try readRegularFile(atPath: path, maxBytes: 64 << 20) } catch { throw CLIError(error.description) }
    guard let text = String(validating: data, as: UTF8.self) else { throw CLIError("\(path): not valid UTF-8") }
    return text
}

/// The node key of `--key FILE`, or without one an ephemeral key (said on stderr).
func loadNodeKey(from path: String?) throws -> NodeKey {
    guard let path else {
        let key = NodeKey.generate()
        Terminal.note("no --key given: signing with an ephemeral key \(key.publicKey.hex)")
        return key
    }
    do { return try NodeKey.load(from: path) } catch { throw CLIError(error.description) }
}

/// A user-facing error: printed as `lockstep: error: MESSAGE`, exit status 1.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}

/// Output helpers: streaming text on stdout, notes and progress on stderr.
enum Terminal {
    /// Writes `text` to stdout immediately (no buffering).
    static func out(_ text: String) {
        StandardStreams.output(text)
    }

    /// Writes a line to stderr.
    static func note(_ text: String) {
        StandardStreams.error("lockstep: " + text + "\n")
    }

    /// Rewrites the progress line on stderr (`StatusLine`, only on a terminal).
    static func progress(_ text: String) { StatusLine.show(text) }

    /// Clears the progress line.
    static func endProgress() { StatusLine.clear() }

    /// Prints one JSON object (sorted keys) on stdout.
    static func json(_ object: [String: Any]) throws {
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        out(String(decoding: data, as: UTF8.self) + "\n")
    }
}
