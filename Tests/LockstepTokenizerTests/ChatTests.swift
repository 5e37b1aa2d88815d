import XCTest
@testable import LockstepTokenizer

final class ChatTests: XCTestCase {
    func testChatMLOnRealModel() throws {
        let tok = try TestModel.tokenizer()
        XCTAssertEqual(try tok.chatFormat(), .chatML)
        let messages = [
            ChatMessage(role: "system", content: "You are terse."),
            ChatMessage(role: "user", content: "What is 2+2?"),
        ]
        let text = try tok.formatChat(messages)
        // What SmolLM2's Jinja template renders for these messages with add_generation_prompt.
        XCTAssertEqual(text, "<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n")
        XCTAssertEqual(try tok.formatChat(messages, addAssistantPrompt: false),
                       "<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n")
        // Encoded with parseSpecial, the markers are the control tokens.
        let ids = tok.encode(text, addSpecial: false, parseSpecial: true)
        XCTAssertEqual(ids.filter { $0 == 1 }.count, 3)
        XCTAssertEqual(ids.filter { $0 == 2 }.count, 2)
        XCTAssertEqual(ids.first, 1)
    }

    private func synthetic(template: String?, tokens: [String] = ["a"]) throws -> Tokenizer {
        try Tokenizer(vocabulary: TokenizerVocabulary(model: "gpt2", pre: "gpt2", tokens: tokens, chatTemplate: template))
    }

    func testLlama3Format() throws {
        let tok = try synthetic(template: "{% for m in messages %}<|start_header_id|>{{ m.role }}<|end_header_id|>...")
        let text = try tok.formatChat([ChatMessage(role: "user", content: "  Hi there \n")])
        XCTAssertEqual(text, "<|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")
    }

    func testUnsupportedTemplateIsAClearError() throws {
        let tok = try synthetic(template: "{{ bos_token }}[INST] {{ m.content }} [/INST]")
        XCTAssertThrowsError(try tok.formatChat([ChatMessage(role: "user", content: "x")])) { error in
            let message = (error as? TokenizerError)?.message ?? ""
            XCTAssertTrue(message.contains("unsupported chat template"), message)
            XCTAssertTrue(message.contains("[INST]"), message)
        }
    }

    func testNoTemplateFallsBackOnChatMLTokens() throws {
        let with = try synthetic(template: nil, tokens: ["a", "<|im_start|>", "<|im_end|>"])
        XCTAssertEqual(try with.formatChat([ChatMessage(role: "user", content: "x")], addAssistantPrompt: false),
                       "<|im_start|>user\nx<|im_end|>\n")
        let without = try synthetic(template: nil)
        XCTAssertThrowsError(try without.formatChat([]))
    }
}
