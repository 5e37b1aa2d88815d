import XCTest
import Lockstep
import LockstepServer
import LockstepTestSupport
import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// The client against a real node, and against hostile ones: an endless answer, one that stalls,
/// one that is not HTTP. Each gives an error, within the bounds, never a crash or a hang.
final class NodeClientTests: XCTestCase {
    func testAddresses() throws {
        XCTAssertEqual(try NodeClient(url: "http://example.org:8080/").url, "http://example.org:8080")
        XCTAssertEqual(try NodeClient(url: "http://example.org").port, 80)
        for bad in ["https://a:1", "http://", "http://a:0", "http://a:70000", "http://a:b", "http://a/v1", "ftp://a"] {
            XCTAssertThrowsError(try NodeClient(url: bad), bad) { XCTAssertEqual(($0 as? NodeError)?.kind, .badRequest) }
        }
        let (client, target) = try NodeClient.resource("http://127.0.0.1:9/v1/traces/ab")
        XCTAssertEqual(client.url, "http://127.0.0.1:9")
        XCTAssertEqual(target, "/v1/traces/ab")
        for bad in ["http://a:1", "https://a:1/x", "/v1/traces/ab", "http://a:0/x", "http:///x"] {
            XCTAssertThrowsError(try NodeClient.resource(bad), bad) { XCTAssertEqual(($0 as? NodeError)?.kind, .badRequest) }
        }
    }

    func testAgainstARealNode() async throws {
        let node = try Fixture.node()
        let port = Listening()
        let running = Task { try await NodeHTTPServer(service: node, port: 0).run { port.set($0) } }
        defer { running.cancel() }
        let client = NodeClient(host: "127.0.0.1", port: try await port.wait())
        let info = try await client.info()
        XCTAssertEqual(info["model_digest"] as? String, node.modelDigest.hex)
        let result = try await client.generate(["prompt_tokens": [1, 2, 3], "max_tokens": 3])
        let id = try XCTUnwrap(result["trace_id"] as? String)
        let path = Fixture.dir.appendingPathComponent("client-\(UUID().uuidString).trace").path
        let bytes = try await client.download("/v1/traces/\(id)", to: path, maxBytes: 1 << 20)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), try Data(contentsOf: URL(fileURLWithPath: node.tracePath(id: id))))
        XCTAssertEqual(bytes, try node.tracePath(id: id).fileSize)
        do {
            _ = try await client.download("/v1/traces/\(id)", to: path + ".small", maxBytes: 10)
            XCTFail("a longer answer than maxBytes was accepted")
        } catch {
            XCTAssertTrue("\(error)".contains("longer than 10 bytes"), "\(error)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: path + ".small"))
        }
        // Opened states: exactly the expected length, else an error naming both lengths.
        let states = try TraceIndex(path: node.tracePath(id: id + "-states"))
        let expected = try states.storedState(at: 2) + states.storedState(at: 0)
        let opened = try await client.states(ofTrace: "/v1/traces/\(id)", steps: [2, 0], expectedBytes: expected.count)
        XCTAssertTrue(opened == expected)
        for wrong in [expected.count - 1, expected.count + 1] {
            do {
                _ = try await client.states(ofTrace: "/v1/traces/\(id)", steps: [2, 0], expectedBytes: wrong)
                XCTFail("an answer of another length was accepted")
            } catch {
                XCTAssertTrue("\(error)".contains("the node answered \(expected.count) bytes for 2 states of \(wrong) bytes"), "\(error)")
            }
        }
        do {
            _ = try await client.states(ofTrace: "/v1/traces/\(id)", steps: [1 << 40], expectedBytes: 10)
            XCTFail("a refused request gave states")
        } catch {
            XCTAssertTrue("\(error)".contains("status 400: field 'steps': entry 0"), "\(error)")
        }
        do {
            _ = try await client.generate(["prompt": "a", "max_tokens": -1])
            XCTFail("a refused request gave a result")
        } catch {
            XCTAssertTrue("\(error)".contains("status 400: field 'max_tokens': must be ≥ 0"), "\(error)")
        }
    }

    /// A port nothing listens on gives the system's reason, not the framework's error dump.
    func testARefusedConnectionIsNamed() async throws {
        // A socket bound but not listening holds the port, so a connection to it is refused.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        XCTAssertGreaterThanOrEqual(fd, 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        XCTAssertTrue(bound)
        let port = Int(UInt16(bigEndian: address.sin_port))
        let client = NodeClient(host: "127.0.0.1", port: port, timeout: .seconds(5))
        do {
            _ = try await client.info()
            XCTFail("port \(port): answered")
        } catch {
            XCTAssertEqual("\(error)", "http://127.0.0.1:\(port)/v1/info: cannot connect to 127.0.0.1:\(port) (Connection refused)")
        }
    }

    func testHostileNodes() async throws {
        let endless = try RawHTTPServer { fd in
            _ = "HTTP/1.1 200 OK\r\nContent-Length: 1000000000\r\n\r\n".withCString { send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
            let chunk = [UInt8](repeating: 0x41, count: 1 << 16)
            while chunk.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) > 0 {}
        }
        let stalling = try RawHTTPServer { _ in sleep(5) }
        let garbage = try RawHTTPServer { fd in _ = "SSH-2.0-OpenSSH\r\n".withCString { send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) } }
        let path = Fixture.dir.appendingPathComponent("hostile-\(UUID().uuidString)").path
        let cases: [(RawHTTPServer, String)] = [(endless, "longer than 100000 bytes"), (stalling, "no complete answer within 1 s"), (garbage, "not an HTTP answer")]
        for (server, expected) in cases {
            let client = NodeClient(host: "127.0.0.1", port: server.port, timeout: .seconds(1))
            let started = Date()
            do {
                _ = try await client.download("/v1/traces/x", to: path, maxBytes: 100_000)
                XCTFail("port \(server.port): accepted")
            } catch {
                XCTAssertTrue("\(error)".contains(expected), "\(error)")
            }
            XCTAssertLessThan(Date().timeIntervalSince(started), 4)
            XCTAssertFalse(FileManager.default.fileExists(atPath: path))
            // Asked for states, the same: an answer is read no further than 64 KiB (or the expected length, if longer).
            do {
                _ = try await client.states(ofTrace: "/v1/traces/x", steps: [0], expectedBytes: 100)
                XCTFail("port \(server.port): states accepted")
            } catch {
                XCTAssertTrue("\(error)".contains(expected.replacingOccurrences(of: "100000", with: "65536")), "\(error)")
            }
        }
    }
}

/// The port a server reports once it listens.
private final class Listening: @unchecked Sendable {
    private let lock = NSLock()
    private var port: Int?
    func set(_ p: Int) { lock.withLock { port = p } }
    func wait() async throws -> Int {
        for _ in 0 ..< 500 {
            if let p = lock.withLock({ port }) { return p }
            try await Task.sleep(nanoseconds: 10_000_000)
        }
        throw NodeError(.failed, "the server did not start listening")
    }
}

private extension String {
    var fileSize: Int { (try? FileManager.default.attributesOfItem(atPath: self)[.size] as? Int) ?? -1 }
}
