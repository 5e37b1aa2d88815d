import Foundation
import XCTest
import Lockstep

final class NodeKeyTests: XCTestCase {
    func testSaveLoadAndPermissions() throws {
        let dir = try TraceFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("node.key").path
        let key = NodeKey.generate()
        try key.save(to: path)
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        XCTAssertEqual((attributes[.posixPermissions] as? NSNumber)?.intValue, 0o600)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        XCTAssertEqual(text.count, 65)
        XCTAssertTrue(text.hasSuffix("\n"))
        let loaded = try NodeKey.load(from: path)
        XCTAssertEqual(loaded.publicKey, key.publicKey)
        XCTAssertEqual(loaded.privateKey.seed, key.privateKey.seed)
        // No silent overwrite.
        XCTAssertThrowsError(try NodeKey.generate().save(to: path)) { XCTAssertTrue("\($0)".contains("exists")) }
        XCTAssertEqual(try NodeKey.load(from: path).publicKey, key.publicKey)
        let replacement = NodeKey.generate()
        try replacement.save(to: path, overwrite: true)
        XCTAssertEqual(try NodeKey.load(from: path).publicKey, replacement.publicKey)
        // --force replaces a regular file or a link, never a FIFO or a device (as root, unlinking
        // /dev/null removed the device).
        let fifo = dir.appendingPathComponent("fifo").path
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        XCTAssertThrowsError(try replacement.save(to: fifo, overwrite: true)) { XCTAssertTrue("\($0)".contains("\(fifo): not a regular file"), "\($0)") }
        var st = stat()
        XCTAssertEqual(lstat(fifo, &st), 0)
        XCTAssertEqual(st.st_mode & S_IFMT, S_IFIFO)
        let link = dir.appendingPathComponent("link.key").path
        XCTAssertEqual(symlink(path, link), 0)
        try NodeKey.generate().save(to: link, overwrite: true)   // the link is replaced, its target kept
        XCTAssertEqual(try NodeKey.load(from: path).publicKey, replacement.publicKey)
        XCTAssertEqual(lstat(link, &st), 0)
        XCTAssertEqual(st.st_mode & S_IFMT, S_IFREG)
        // A key others can read is refused.
        chmod(path, 0o644)
        XCTAssertThrowsError(try NodeKey.load(from: path)) { XCTAssertTrue("\($0)".contains("too open"), "\($0)") }
        chmod(path, 0o600)
        XCTAssertNoThrow(try NodeKey.load(from: path))
    }

    func testMalformedKeyFiles() throws {
        let dir = try TraceFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        for (i, text) in ["", "abc", String(repeating: "0", count: 63), String(repeating: "g", count: 64), String(repeating: "00", count: 33)].enumerated() {
            let path = dir.appendingPathComponent("bad\(i).key").path
            _ = FileManager.default.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600])
            XCTAssertThrowsError(try NodeKey.load(from: path), "\(text)")
        }
        XCTAssertThrowsError(try NodeKey.load(from: dir.appendingPathComponent("missing").path))
        XCTAssertThrowsError(try NodeKey.load(from: dir.path)) { XCTAssertTrue("\($0)".contains("regular file")) }
        // Whitespace around the hex is fine; upper case too.
        let seed = String(repeating: "AB", count: 32)
        let key = try NodeKey(fileText: "  \(seed)\n\n")
        XCTAssertEqual(key.privateKey.seed, [UInt8](repeating: 0xAB, count: 32))
    }
}
