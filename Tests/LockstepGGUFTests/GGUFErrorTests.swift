import XCTest
@testable import LockstepGGUF

final class GGUFErrorTests: XCTestCase {
    func testDescriptionFormat() {
        let e = GGUFError(path: "model.gguf", offset: 4242, field: "tensor 'blk.0.attn_q.weight' offset",
                          message: "123456 is past the end of the file (98362432 bytes)")
        XCTAssertEqual(e.description,
                       "model.gguf: tensor 'blk.0.attn_q.weight' offset: 123456 is past the end of the file (98362432 bytes) [at byte 4242]")
        XCTAssertEqual(GGUFError(path: "p", offset: nil, field: nil, message: "m").description, "p: m")
    }

    func testErrorNamesFieldValueAndOffset() throws {
        let c = try XCTUnwrap(GGUFMalformedCorpus.cases().first { $0.id == "misaligned-offset" })
        let error = try XCTUnwrap(expectRejection(c.bytes, name: "m.gguf"))
        XCTAssertEqual(error.field, "tensor 't.q8_0' offset")
        XCTAssertEqual(error.message, "33 is not a multiple of the alignment 32")
        // The reported offset is where the 8-byte offset field sits: it holds 33.
        let at = try XCTUnwrap(error.offset)
        XCTAssertEqual(Array(c.bytes[at..<(at + 8)]), [33, 0, 0, 0, 0, 0, 0, 0])
    }

    func testVersionErrorOffset() throws {
        let c = try XCTUnwrap(GGUFMalformedCorpus.cases().first { $0.id == "version-1" })
        let error = try XCTUnwrap(expectRejection(c.bytes))
        XCTAssertEqual(error.offset, 4)
        XCTAssertEqual(error.field, "header.version")
    }

    func testMissingFile() {
        XCTAssertThrowsError(try GGUFFile(path: "/nonexistent/lockstep.gguf")) { error in
            let e = error as! GGUFError
            XCTAssertEqual(e.path, "/nonexistent/lockstep.gguf")
            XCTAssert(e.message.contains("cannot open"), e.message)
            XCTAssertNil(e.offset)
        }
    }

    func testDirectoryIsNotAFile() {
        XCTAssertThrowsError(try GGUFFile(path: "/")) { error in
            XCTAssert((error as! GGUFError).message.contains("not a regular file"))
        }
    }

    func testTypedThrows() {
        // `init(bytes:)` throws GGUFError itself, so no cast is needed.
        do {
            _ = try GGUFFile(bytes: [1, 2, 3])
        } catch {
            let e: GGUFError = error
            XCTAssertEqual(e.field, "header.magic")
        }
    }
}
