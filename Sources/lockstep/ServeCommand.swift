import ArgumentParser
import Foundation
import Lockstep
import LockstepCommandLine
import LockstepServer

struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run a generating node: an HTTP server that answers with text, a signed commitment and a trace (SPEC §9).",
        discussion: """
            GET /v1/info; POST /v1/generate with a JSON body (prompt, chat or prompt_tokens; max_tokens, temperature, \
            seed, trace_activations, stream); GET /v1/traces/<id> serves the traces kept in --trace-dir for verifiers \
            (<id>-states, with every step's state, recomputed on demand); POST /v1/traces/<id>/states with \
            {"steps": [i, …]} answers just those steps' states. Stops on SIGINT or SIGTERM.
            """)

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var backendOptions: BackendOptions
    @Option(name: .long, help: "Node key file (from `lockstep keygen`) that signs every commitment; default: an ephemeral key.")
    var key: String?
    @Option(name: .long, help: "Address to listen on.")
    var host = "127.0.0.1"
    @Option(name: .long, help: "TCP port to listen on (0: any free port).")
    var port = 8080
    @Option(name: .long, help: "Directory that keeps the traces (created if missing).")
    var traceDir = "lockstep-traces"
    @Option(name: .long, help: "The largest max_tokens a request may ask for.")
    var maxTokensLimit = 1024
    @Option(name: .long, help: "Requests that may wait beside the running one; more are answered 503.")
    var maxWaiting = 8
    @Option(name: .long, help: "The largest request body, in bytes; larger ones are answered 413.")
    var maxBodyBytes = 1 << 20
    @Option(name: .long, help: "Keep at most this many bytes of traces, removing the oldest (default: no limit).")
    var maxTraceBytes: Int?

    func validate() throws {
        if !(0 ... 65535).contains(port) { throw ValidationError("--port must be in 0 … 65535, got \(port)") }
        if maxTokensLimit < 0 { throw ValidationError("--max-tokens-limit must be ≥ 0, got \(maxTokensLimit)") }
        if maxWaiting < 0 { throw ValidationError("--max-waiting must be ≥ 0, got \(maxWaiting)") }
        if maxBodyBytes < 1 { throw ValidationError("--max-body-bytes must be ≥ 1, got \(maxBodyBytes)") }
        if let maxTraceBytes, maxTraceBytes < 0 { throw ValidationError("--max-trace-bytes must be ≥ 0, got \(maxTraceBytes)") }
    }

    func run() throws {
        let model = try modelOptions.load()
        let backend = try backendOptions.make()
        let nodeKey = try loadNodeKey(from: key)
        let service: NodeService
        do {
            service = try NodeService(model: model, backend: backend, key: nodeKey, traceDirectory: traceDir,
                                      limits: NodeService.Limits(maxTokens: maxTokensLimit, maxWaiting: maxWaiting, maxBodyBytes: maxBodyBytes,
                                                                 maxTraceBytes: maxTraceBytes))
        } catch { throw CLIError(error.description) }
        let server = NodeHTTPServer(service: service, host: host, port: port) { line in Terminal.note(line) }
        let host = self.host, traceDir = self.traceDir
        do {
            try runBlocking {
                try await server.run { port in
                    Terminal.note("serving \(model.file.path) on http://\(host):\(port) with the \(backend.name) backend; " +
                                  "model digest \(service.modelDigest.hex), public key \(service.publicKey.hex), traces in \(traceDir)")
                }
            }
        } catch {
            throw CLIError("cannot serve on \(host):\(port): \(error)")
        }
    }
}
