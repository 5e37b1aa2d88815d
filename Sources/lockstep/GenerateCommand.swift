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
    var temperature: Double = 0   // read as a binary64 so that a value past binary32 is named as typed
    @Option(name: .long, help: "Seed of the counter-based sampler.")
    var seed: UInt64 = 0
    @OptionGroup var backendOptions: BackendOptions
    @Flag(name: .long, help: "Print one JSON object instead of streaming text.")
    var json = false
    @Option(name: .long, help: "Write the committed execution trace to this file (SPEC §7).")
    var trace: String?
    @Option(name: .long, help: "Node key file (from `lockstep keygen`) that signs the commitment; default: an ephemeral key.")
    var key: String?
    @Flag(name: .long, help: "Store every step's state in the trace (opens any step without recomputation; much larger file).")
    var traceActivations = false
    @Option(name: .long, help: ArgumentHelp("Testing only: simulate a cheating node by flipping one bit of the output of layer step LAYER at token position TOKEN (LAYER `e`: the embedding step); the trace is signed and wrong from that step.", valueName: "TOKEN:LAYER"))
    var injectFault: String?

    func validate() throws {
        if prompt != nil && chat != nil { throw ValidationError("give either --prompt or --chat, not both") }
        if maxTokens < 0 { throw ValidationError("--max-tokens must be ≥ 0, got \(maxTokens)") }
        if !(temperature >= 0 && Float(temperature).isFinite) {
            throw ValidationError("--temperature must be a number ≥ 0 and finite as a binary32 (at most \(Float.greatestFiniteMagnitude)), got \(temperature)")
        }
        if trace == nil && key != nil { throw ValidationError("--key signs a trace's commitment: give --trace FILE too") }
        if trace == nil && traceActivations { throw ValidationError("--trace-activations needs --trace FILE") }
        if injectFault != nil && trace == nil { throw ValidationError("--inject-fault needs --trace FILE") }
        if let trace, let key, isSameFile(trace, key) { throw ValidationError("--trace \(trace) is the key file \(key); the trace would replace it") }
        _ = try parsedFault()
    }

    /// `TOKEN:LAYER` → the fault.
    func parsedFault() throws -> FaultInjection? {
        guard let injectFault else { return nil }
        let parts = injectFault.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let position = Int(parts[0]), position >= 0 else {
            throw ValidationError("--inject-fault takes TOKEN:LAYER (a token position ≥ 0, a layer ≥ 0 or `e`), got '\(injectFault)'")
        }
        if parts[1] == "e" { return FaultInjection(position: position, layer: nil) }
        guard let layer = Int(parts[1]), layer >= 0 else {
            throw ValidationError("--inject-fault takes TOKEN:LAYER (a token position ≥ 0, a layer ≥ 0 or `e`), got '\(injectFault)'")
        }
        return FaultInjection(position: position, layer: layer)
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
        var detokenizer = StreamingDetokenizer(tokenizer: model.tokenizer)
        let sampler = SamplerSettings(temperature: Float(temperature), seed: seed)
        // Ctrl-C stops after the token being chosen: the output (and the trace) then end there,
        // complete and signed; a second Ctrl-C ends the process at once.
        Interruption.arm()
        let onToken: (TokenID) -> Bool = { id in
            if !json { Terminal.out(detokenizer.append(id)) }
            return !Interruption.requested
        }
        var signed: SignedCommitment? = nil
        var traceSeconds: Double? = nil
        let output: GeneratedTokens
        let started: Date
        let startedCPU: Double
        if let trace {
            let nodeKey = try loadNodeKey(from: key)
            // The model digest is a per-model cost (one pass over the weights), computed before the clock starts.
            let digest = model.digest()
            started = Date()
            startedCPU = processCPUSeconds()
            let fault = try parsedFault()
            do {
                let result = try TracedGeneration.run(model: model, backend: backend, prompt: promptTokens, maxTokens: maxTokens,
                                                      sampler: sampler, key: nodeKey.privateKey, modelDigest: digest, tracePath: trace,
                                                      options: TraceOptions(storeStates: traceActivations, fault: fault),
                                                      onToken: onToken)
                output = GeneratedTokens(tokens: result.tokens, stop: result.stop)
                signed = result.signed
                traceSeconds = result.traceSeconds
            } catch { throw CLIError(error.description) }
        } else {
            let session = InferenceSession(model: model, backend: backend)
            started = Date()
            startedCPU = processCPUSeconds()
            do {
                output = try session.generate(prompt: promptTokens, maxTokens: maxTokens, sampler: sampler, onToken: onToken)
            } catch { throw CLIError(error.description) }
        }
        let seconds = Date().timeIntervalSince(started)
        let tokens = output.tokens
        let cpuSeconds = processCPUSeconds() - startedCPU
        if json {
            var object: [String: Any] = [
                "prompt_tokens": promptTokens.map(Int.init),
                "tokens": tokens.map(Int.init),
                "text": model.tokenizer.decode(tokens),
                "stop_reason": output.stop.rawValue,
                "backend": backend.name,
                "contract_version": ContractVersion.current,
                "seconds": seconds,
                "cpu_seconds": cpuSeconds,
            ]
            if let signed {
                object["commitment"] = signed.jsonObject
                object["trace"] = trace
                object["trace_seconds"] = traceSeconds
            }
            object["interrupted"] = Interruption.requested
            try Terminal.json(object)
        } else {
            Terminal.out(detokenizer.finish() + "\n")
            Terminal.note(String(format: "%d prompt + %d generated tokens in %.2f s on %@", promptTokens.count, tokens.count, seconds, backend.name))
            if let signed, let trace {
                Terminal.note("trace \(trace): \(signed.commitment.leafCount) steps, root \(signed.commitment.root.hex), signed by \(signed.publicKey.hex)")
            }
        }
        if output.stop == .contextFull {
            Terminal.note("stopped at the context limit: prompt and output fill its \(model.config.contextLimit) positions")
        }
        if Interruption.requested {
            Terminal.note("interrupted: stopped after \(tokens.count) generated tokens" + (trace == nil ? "" : "; the trace covers them, complete and signed"))
            throw ExitCode(Interruption.exitStatus)
        }
    }
}

/// CPU time used by the process so far (all threads), in seconds.
private func processCPUSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}
