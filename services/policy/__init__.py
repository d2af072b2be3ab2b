"""policy: policies as data, explained matching, push, no-application payouts (免申即享)."""
