"""Makes the credentials of the benchmark's auth workloads, as an OpenID
provider would, outside the server's code: an RSA key pair, its public half
as a JWK Set file (the server's OIDC_JWKS_FILE), and COUNT RS256 buyer
tokens for ISSUER and AUDIENCE, each with a subject of its own, one a line.

    python3 bench/buyer_tokens.py DIR ISSUER AUDIENCE COUNT HOURS

writes DIR/jwks.json and DIR/tokens.txt; the tokens expire after HOURS.
"""

import json
import sys
import time

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

KID = "bench"


def main(out_dir: str, issuer: str, audience: str, count: int, hours: float) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update(kid=KID, alg="RS256", use="sig")
    with open(f"{out_dir}/jwks.json", "w") as f:
        json.dump({"keys": [jwk]}, f)
    now = int(time.time())
    claims = {"iss": issuer, "aud": audience, "iat": now, "nbf": now, "exp": now + int(hours * 3600)}
    with open(f"{out_dir}/tokens.txt", "w") as f:
        for n in range(count):
            # Not UUIDs, as most providers' subjects: the server derives each
            # buyer's user_id from the issuer and the subject.
            token = jwt.encode({**claims, "sub": f"bench-buyer-{n}"}, key, algorithm="RS256",
                               headers={"kid": KID})
            f.write(token + "\n")


if __name__ == "__main__":
    if len(sys.argv) != 6:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5]))
