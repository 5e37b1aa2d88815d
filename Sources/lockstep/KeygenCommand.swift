import ArgumentParser
import Foundation
import Lockstep

struct KeygenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen",
        abstract: "Create a node signing key (Ed25519, file mode 0600); prints the public key as hex.")

    @Option(name: .long, help: "Key file to create (refuses to overwrite an existing file).")
    var out: String
    @Flag(name: .long, help: "Replace an existing file.")
    var force = false

    func run() throws {
        let key = NodeKey.generate()
        do { try key.save(to: out, overwrite: force) } catch { throw CLIError(error.description) }
        Terminal.out(key.publicKey.hex + "\n")
    }
}
