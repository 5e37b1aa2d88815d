import Foundation

/// A new, empty directory `lockstep-NAME-UUID` under the system's temporary directory.
public func freshTemporaryDirectory(_ name: String) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("lockstep-\(name)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}
