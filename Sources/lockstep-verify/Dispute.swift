import ArgumentParser
import Foundation
import Lockstep

struct DisputeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "dispute", abstract: "(not yet)")
    func run() throws { throw VerifyError("not implemented") }
}
struct CheckProofCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "check-proof", abstract: "(not yet)")
    func run() throws { throw VerifyError("not implemented") }
}
struct AuditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "audit", abstract: "(not yet)")
    func run() throws { throw VerifyError("not implemented") }
}
