import Foundation
import LockstepModel
import LockstepTokenizer

/// The body of `POST /v1/generate` (SPEC §9.2): one JSON object.
///
/// Fields: exactly one of `prompt` (raw text), `chat` (a user message, wrapped in the model's
/// chat template) or `prompt_tokens` (token ids); `max_tokens` (default 32), `temperature`
/// (default 0, greedy), `seed` (default 0), `trace_activations` (default false: store every
/// step's state in the trace), `stream` (default false: one JSON object; true: one JSON line per
/// token, then the result). Any other field is refused, so that a misspelt option is an error
/// rather than a silent default.
public struct GenerationRequest: Sendable, Equatable {
    /// What the prompt is given as.
    public enum Prompt: Sendable, Equatable {
        /// Raw text, tokenized with the model's special tokens added as its GGUF asks.
        case text(String)
        /// One user message, wrapped in the model's chat template.
        case chat(String)
        /// Token ids, used as they are.
        case tokens([TokenID])
    }

    /// The prompt.
    public var prompt: Prompt
    /// Tokens to generate at most (≥ 0).
    public var maxTokens: Int
    /// Temperature (binary32; 0 is greedy) and seed of the contract's sampler (SPEC §4.3).
    public var sampler: SamplerSettings
    /// Store every step's state in the trace file (opens any step without recomputation).
    public var traceActivations: Bool
    /// Answer with one JSON line per generated token before the result.
    public var stream: Bool

    /// `max_tokens` when the request leaves it out.
    public static let defaultMaxTokens = 32
    /// The fields a request may carry.
    public static let fields: Set<String> = ["prompt", "chat", "prompt_tokens", "max_tokens", "temperature", "seed", "trace_activations", "stream"]

    public init(prompt: Prompt, maxTokens: Int = defaultMaxTokens, sampler: SamplerSettings = SamplerSettings(temperature: 0, seed: 0),
                traceActivations: Bool = false, stream: Bool = false) {
        self.prompt = prompt
        self.maxTokens = maxTokens
        self.sampler = sampler
        self.traceActivations = traceActivations
        self.stream = stream
    }

    /// Parses and checks a request body.
    /// - Throws: `NodeError.badRequest` naming the field and the value at fault: not a JSON
    ///   object, a field given twice, an unknown field, a field of the wrong type, no prompt or
    ///   more than one, a negative `max_tokens`, a `temperature` that is not a finite number ≥ 0,
    ///   a negative token id.
    public init(json body: [UInt8]) throws(NodeError) {
        let object = try RequestJSON.object(body, fields: Self.fields, route: "a generation request")
        let fields: Fields
        do {
            fields = try JSONDecoder().decode(Fields.self, from: Data(body))
        } catch {
            // Name the first field (in name order) that does not decode on its own.
            for name in object.keys.sorted() {
                guard let solo = try? JSONSerialization.data(withJSONObject: [name: object[name]!]),
                      (try? JSONDecoder().decode(Fields.self, from: solo)) == nil else { continue }
                let value = (try? JSONSerialization.data(withJSONObject: object[name]!, options: [.fragmentsAllowed]))
                    .map { String(decoding: $0.prefix(60), as: UTF8.self) } ?? "?"
                throw NodeError(.badRequest, "field '\(name)': expected \(Self.expected[name] ?? "another value"), got \(value)")
            }
            throw NodeError(.badRequest, "the request body cannot be read: \(error)")
        }
        if let ids = fields.prompt_tokens, let bad = ids.firstIndex(where: { $0 < 0 || $0 > Int(Int32.max) }) {
            throw NodeError(.badRequest, "field 'prompt_tokens': entry \(bad) (\(ids[bad])) is not a token id")
        }
        let given = [fields.prompt.map { Prompt.text($0) }, fields.chat.map { Prompt.chat($0) },
                     fields.prompt_tokens.map { Prompt.tokens($0.map { TokenID($0) }) }].compactMap { $0 }
        guard given.count == 1, let prompt = given.first else {
            throw NodeError(.badRequest, given.isEmpty ? "no prompt: give one of 'prompt', 'chat' or 'prompt_tokens'"
                                                       : "give only one of 'prompt', 'chat' and 'prompt_tokens'")
        }
        let maxTokens = fields.max_tokens ?? Self.defaultMaxTokens
        guard maxTokens >= 0 else { throw NodeError(.badRequest, "field 'max_tokens': must be ≥ 0, got \(maxTokens)") }
        let temperature = fields.temperature ?? 0
        guard temperature >= 0, Float(temperature).isFinite else {
            throw NodeError(.badRequest, "field 'temperature': must be a finite number ≥ 0, got \(temperature)")
        }
        self.init(prompt: prompt, maxTokens: maxTokens, sampler: SamplerSettings(temperature: Float(temperature), seed: fields.seed ?? 0),
                  traceActivations: fields.trace_activations ?? false, stream: fields.stream ?? false)
    }

    /// The typed fields, decoded after the unknown-field check.
    private struct Fields: Decodable {
        var prompt: String?
        var chat: String?
        var prompt_tokens: [Int]?
        var max_tokens: Int?
        var temperature: Double?
        var seed: UInt64?
        var trace_activations: Bool?
        var stream: Bool?
    }

    /// What each field must hold, for the error that names it.
    private static let expected: [String: String] = [
        "prompt": "a string", "chat": "a string", "prompt_tokens": "an array of token ids", "max_tokens": "an integer",
        "temperature": "a number", "seed": "an integer in 0 … 2^64 − 1", "trace_activations": "true or false", "stream": "true or false",
    ]
}
