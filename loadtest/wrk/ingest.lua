-- wrk script: signed Talabat webhooks with unique bodies, spread over tenants
-- c1..c8 (register them first; see BENCHMARKS.md). An interim tool until
-- orderhook-loadtest is built.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Talabat-API-Key"] = "talabat-secret-0123456789"
-- A ~1.26 KB order modelled on the seed's Careem sample; each request gets a
-- unique order id, so duplicate suppression does not short-circuit it.
local template = [[{"event_type": "order_notification", "timestamp": "2024-09-27T10:30:00Z", "data": {"order": {"id": "careem_order_12345", "order_number": "ORD-789", "status": "confirmed", "restaurant_id": "rest_456", "customer": {"id": "cust_789", "name": "Ahmed Ali", "phone": "+971501234567", "email": "ahmed@example.com"}, "items": [{"id": "item_123", "menu_item_id": "menu_456", "name": "Chicken Shawarma", "quantity": 2, "unit_price": "25.00", "total_price": "50.00", "modifiers": [{"id": "mod_789", "name": "Extra Sauce", "price": "2.00", "quantity": 1}]}, {"id": "item_123", "menu_item_id": "menu_456", "name": "Chicken Shawarma", "quantity": 2, "unit_price": "25.00", "total_price": "50.00", "modifiers": [{"id": "mod_789", "name": "Extra Sauce", "price": "2.00", "quantity": 1}]}, {"id": "item_123", "menu_item_id": "menu_456", "name": "Chicken Shawarma", "quantity": 2, "unit_price": "25.00", "total_price": "50.00", "modifiers": [{"id": "mod_789", "name": "Extra Sauce", "price": "2.00", "quantity": 1}]}], "total_amount": "52.00", "currency": "AED", "delivery_address": {"formatted_address": "123 Sheikh Zayed Road, Dubai", "coordinates": {"lat": 25.2048, "lng": 55.2708}}, "payment_status": "paid", "payment_method": "card", "created_at": "2024-09-27T10:30:00Z"}}}]]
local n = 0
local thread_id = 0
setup = function(thread) thread:set("tid", thread_id); thread_id = thread_id + 1 end
request = function()
  n = n + 1
  local body = template:gsub("careem_order_12345", "order_" .. tid .. "_" .. n)
  return wrk.format(nil, "/webhooks/talabat/c" .. ((n % 8) + 1), nil, body)
end
