"""ECHO: return the given words as the job's stdout, on every target.

Written against the component API of the original Directord, unchanged: a
``Component`` subclass of ``components.ComponentBase`` with ``args``,
``server`` and ``client``. Registered under the ``directord.components``
entry point group as ``echo`` (verbs are matched case-insensitively).

    directord exec --verb ECHO hello world --wait
"""

from directord import components


class Component(components.ComponentBase):
    """Echo text back. Cacheable (the default): a repeat on a node is skipped."""

    def __init__(self):
        super().__init__(desc="Process echo commands")

    def args(self):
        """Add the words to echo to the options every verb has."""
        super().args()
        self.parser.add_argument("echo", nargs="+", help="Words to echo back (joined by single spaces).")

    def server(self, exec_array, data, arg_vars):
        """Runs where the job is submitted: parse, then store the text in the job."""
        super().server(exec_array=exec_array, data=data, arg_vars=arg_vars)
        words = self.known_args.echo
        # An orchestration's ``vars: {echo: ...}`` may override the words with one string.
        data["echo"] = words if isinstance(words, str) else " ".join(str(word) for word in words)
        return data

    def client(self, cache, job):
        """Runs on the node: (stdout, stderr, outcome, info)."""
        return job["echo"], None, True, None
