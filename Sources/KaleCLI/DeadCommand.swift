import ArgumentParser
import Foundation
import Kale

/// `kale dead`: the dead sets: list, retry, purge.
struct DeadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dead",
        abstract: "List, retry or delete dead tasks.",
        discussion: """
        Examples:
          kale dead list --queue images
          kale dead retry 3f0c9a1e-8d2b-4c55-9a57-0c1d2e3f4a5b
          kale dead retry --all --queue images
          kale dead purge --queue images --yes
        """,
        subcommands: [DeadList.self, DeadRetry.self, DeadPurge.self]
    )
}
