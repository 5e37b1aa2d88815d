import LockstepGGUF

/// One message of a chat: a role (`"system"`, `"user"`, `"assistant"`, …) and its text.
public struct ChatMessage: Sendable, Equatable {
    /// The speaker: `"system"`, `"user"`, `"assistant"` or any other role the model knows.
    public var role: String
    /// The message text.
    public var content: String

    /// Creates a message.
    public init(role: String, content: String) {
        self.role = role
        self.content = content
    }
}

/// The chat formats ``Tokenizer/formatChat(_:addAssistantPrompt:)`` can produce.
public enum ChatFormat: Sendable, Equatable {
    /// `<|im_start|>role\ncontent<|im_end|>\n` per message; prompt `<|im_start|>assistant\n`.
    case chatML
    /// `<|start_header_id|>role<|end_header_id|>\n\ncontent<|eot_id|>` per message (content with
    /// surrounding whitespace trimmed, as llama.cpp does); prompt
    /// `<|start_header_id|>assistant<|end_header_id|>\n\n`. The `<|begin_of_text|>` BOS is not
    /// included: `encode(_:addSpecial: true)` adds it.
    case llama3
}

extension Tokenizer {
    /// The chat format of this vocabulary, chosen from `tokenizer.chat_template`: ChatML when it
    /// contains `<|im_start|>`, Llama 3 when it contains `<|start_header_id|>`. Without a template,
    /// ChatML when the vocabulary has both `<|im_start|>` and `<|im_end|>` tokens.
    ///
    /// - Throws: ``TokenizerError`` when the template is neither (the template is not interpreted).
    public func chatFormat() throws(TokenizerError) -> ChatFormat {
        if let t = vocabulary.chatTemplate {
            if t.contains("<|im_start|>") { return .chatML }
            if t.contains("<|start_header_id|>") { return .llama3 }
            throw TokenizerError("unsupported chat template (tokenizer.chat_template is \(GGUFValue.quoted(t))): formatChat supports ChatML (<|im_start|>) and Llama 3 (<|start_header_id|>) templates")
        }
        if id(forToken: "<|im_start|>") != nil && id(forToken: "<|im_end|>") != nil { return .chatML }
        throw TokenizerError("the vocabulary has no chat template (tokenizer.chat_template) and no <|im_start|>/<|im_end|> tokens, so formatChat cannot choose a format")
    }

    /// Renders a chat as prompt text in the model's chat format (see ``chatFormat()``).
    ///
    /// ChatML output is exactly the messages in order, with nothing added: Jinja templates that
    /// insert a default system prompt when the first message is not `"system"` (as SmolLM2's
    /// does) are not imitated — pass the system message explicitly. Encode the result with
    /// `parseSpecial: true` so that the markers become control tokens.
    ///
    /// - Parameter addAssistantPrompt: end with the opening of an assistant turn, ready for generation.
    /// - Throws: ``TokenizerError`` when the vocabulary's chat format is not supported.
    public func formatChat(_ messages: [ChatMessage], addAssistantPrompt: Bool = true) throws(TokenizerError) -> String {
        var out = ""
        switch try chatFormat() {
        case .chatML:
            for m in messages {
                out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n"
            }
            if addAssistantPrompt { out += "<|im_start|>assistant\n" }
        case .llama3:
            for m in messages {
                out += "<|start_header_id|>" + m.role + "<|end_header_id|>\n\n" + trimmed(m.content) + "<|eot_id|>"
            }
            if addAssistantPrompt { out += "<|start_header_id|>assistant<|end_header_id|>\n\n" }
        }
        return out
    }
}

/// The string without leading and trailing White_Space scalars.
private func trimmed(_ s: String) -> String {
    let u = Array(s.unicodeScalars)
    var a = 0, b = u.count
    while a < b && u[a].properties.isWhitespace { a += 1 }
    while b > a && u[b - 1].properties.isWhitespace { b -= 1 }
    var v = String.UnicodeScalarView()
    v.append(contentsOf: u[a..<b])
    return String(v)
}
