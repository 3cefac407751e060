"""The built-in networks, one per framework: modules written against the same public
contract as a user's (trainers.module_contract), which is the proof that it is enough."""
