import Foundation
import LockstepNative

/// Why a node key cannot be created, saved or loaded.
public struct NodeKeyError: Error, Sendable, Equatable, CustomStringConvertible {
    public let description: String
    public init(_ message: String) { description = message }
}

/// A node's Ed25519 signing key, stored as a text file holding the 32-byte seed as 64 hex digits
/// and a newline, readable by its owner only (mode 0600).
public struct NodeKey: Sendable {
    /// The private key.
    public let privateKey: Ed25519PrivateKey

    /// The public key.
    public var publicKey: Ed25519PublicKey { privateKey.publicKey }

    /// Wraps a private key.
    public init(privateKey: Ed25519PrivateKey) { self.privateKey = privateKey }

    /// A fresh key from OpenSSL's random generator.
    public static func generate() -> NodeKey { NodeKey(privateKey: Ed25519PrivateKey()) }

    /// The key file's text: the seed as 64 lower-case hex digits and a newline.
    public var fileText: String { Hex.encode(privateKey.seed) + "\n" }

    /// Parses a key file's text (64 hex digits, surrounding whitespace ignored).
    public init(fileText: String) throws(NodeKeyError) {
        let hex = fileText.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let seed = Hex.decode(hex), seed.count == 32 else {
            throw NodeKeyError("a node key file holds 64 hex digits (the Ed25519 seed)")
        }
        do { privateKey = try Ed25519PrivateKey(seed: seed) } catch { throw NodeKeyError("\(error)") }
    }

    /// Writes the key to a new file with mode 0600.
    /// - Parameter overwrite: replace an existing regular file or symbolic link (default: refuse).
    /// - Throws: `NodeKeyError` when the file exists (and `overwrite` is false, or it is not a
    ///   regular file or a link: a device such as `/dev/null` or a FIFO is never removed) or
    ///   cannot be written; a file this call created is then removed, never left empty or partial.
    public func save(to path: String, overwrite: Bool = false) throws(NodeKeyError) {
        var st = stat()
        if overwrite && lstat(path, &st) == 0 {
            guard [S_IFREG, S_IFLNK].contains(st.st_mode & S_IFMT) else {
                throw NodeKeyError("\(path): not a regular file; only a regular file is replaced by a key")
            }
            guard unlink(path) == 0 else { throw NodeKeyError("\(path): cannot replace the file (\(String(cString: strerror(errno))))") }
        }
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard fd >= 0 else {
            let why = errno == EEXIST ? "the file exists (not overwriting a key)" : String(cString: strerror(errno))
            throw NodeKeyError("\(path): \(why)")
        }
        var complete = false
        defer {
            close(fd)
            if !complete { unlink(path) }
        }
        // The umask can only remove bits; set exactly 0600 anyway.
        guard fchmod(fd, 0o600) == 0 else { throw NodeKeyError("\(path): cannot set mode 0600 (\(String(cString: strerror(errno))))") }
        if let short = Array(fileText.utf8).withUnsafeBytes({ writeAll(fd, $0) }) {
            throw NodeKeyError("\(path): write failed (\(short.reason))")
        }
        guard fsync(fd) == 0 else { throw NodeKeyError("\(path): write failed (\(String(cString: strerror(errno))))") }
        complete = true
    }

    /// Loads a key file.
    /// - Throws: `NodeKeyError` when the file cannot be read or is larger than 4096 bytes, is readable or writable by group
    ///   or others (like ssh, a key others can read is refused), or does not hold a key.
    public static func load(from path: String) throws(NodeKeyError) -> NodeKey {
        var st = stat()
        guard stat(path, &st) == 0 else { throw NodeKeyError("\(path): \(String(cString: strerror(errno)))") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw NodeKeyError("\(path): not a regular file") }
        guard st.st_mode & 0o077 == 0 else {
            throw NodeKeyError("\(path): permissions \(String(st.st_mode & 0o777, radix: 8)) are too open; a node key must be 0600 (chmod 600 \(path))")
        }
        let data: [UInt8]
        do { data = try readRegularFile(atPath: path, maxBytes: 4096) } catch { throw NodeKeyError(error.description) }
        do { return try NodeKey(fileText: String(decoding: data, as: UTF8.self)) } catch { throw NodeKeyError("\(path): \(error.description)") }
    }
}
