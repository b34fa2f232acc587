# TEMPORARY SMOKE SHIM
import json, urllib.request
from pydantic import BaseModel
class NotifyResult(BaseModel):
    sent: int = 0
def notify(settings, title, body, level):
    for u in settings.notifications.urls:
        req = urllib.request.Request(u.replace("json://", "http://"), data=json.dumps({"title": title, "message": body}).encode(), headers={"Content-Type": "application/json"})
        urllib.request.urlopen(req, timeout=5)
    return NotifyResult(sent=1)
